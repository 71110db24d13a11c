"""Models that travel: a trained network's one-step function in ONNX (:mod:`melodygen.export.onnx_step`)."""

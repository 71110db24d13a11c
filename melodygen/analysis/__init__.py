"""Reading finished runs: the comparison table and plots, the listening report, and the uncertainty of their figures."""

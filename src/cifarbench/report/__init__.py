"""Reports: plots (matplotlib, Agg), tables, RESULTS.md and HTML, made from run directories."""

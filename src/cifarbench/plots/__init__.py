"""Pictures (matplotlib, Agg): chart primitives (charts) and the charts of one run (run), drawn
by the run lifecycle at the end of every run and by `cifarbench plot` and `report` later."""

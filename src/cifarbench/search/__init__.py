"""Search: recipes chosen on a validation split carved from the training data.

space.py        a search space read from YAML (each parameter a config field and its range)
tune.py         `cifarbench tune`: Optuna trials, each a run that ends on its validation split
tune_report.py  a study's report: the best trial, its config as a layer, the trials' table
ablate.py       `cifarbench ablate`: one recipe with each trick turned off (or on) in turn
"""

"""The planner: `--budget-s SECONDS` or `--target ACCURACY` turned into one schedule to train.

frontier.py    what fixed schedules reach on a dataset (accuracy against images seen), measured once
               per dataset by `cifarbench frontier`; frontiers/*.json ship with the package
calibrate.py   what a schedule costs here and now: the data-dependent setup and a few timed steps
plan.py        the choice (the most accurate schedule that fits the budget, or the fastest that
               reaches the target), the whole command's clock, and the run that follows the plan
"""

"""The configuration of a run: frozen dataclasses, one per concern, validated when built.

    sections.py   the schema: DataConfig, Augment, ModelConfig, OptimConfig, ScheduleConfig,
                  TrainConfig, HardwareConfig, OutputConfig, HybridConfig and RunConfig, which
                  holds them (MOVED: the fields that left the training section, still read at
                  their old paths)
    fields.py     how a field is described (opt, Flag, allowed values) and the checks sections run
    values.py     plain values in and out: coercion to each field's type, merging layers, `--set`, YAML

Values are resolved in this order, each overriding the one before:
defaults < recipe < YAML file (--config) < command-line flags and `--set section.field=value`.
Unknown keys and wrong types are refused with a ConfigError naming the field.
"""

from cifarbench.config.fields import (
    FLIP_MODES,
    FRAMEWORKS,
    INTERVALS,
    LOSS_REDUCTIONS,
    NONFINITE,
    OPTIMIZERS,
    PAD_MODES,
    SCHEDULES,
    TRAINERS,
    TTA_LEVELS,
    Flag,
    check_choices,
    checkpoint_interval,
    comma_list,
    logger_names,
    opt,
)
from cifarbench.config.sections import (
    HYBRID_PRESETS,
    MOVED,
    Augment,
    DataConfig,
    HardwareConfig,
    HybridConfig,
    ModelConfig,
    OptimConfig,
    OutputConfig,
    RunConfig,
    ScheduleConfig,
    TrainConfig,
    current_paths,
    schema_fields,
    with_implied,
)
from cifarbench.config.values import coerce, get_path, load_yaml, merge, nested, parse_assignment, read_yaml

__all__ = [
    "FLIP_MODES",
    "FRAMEWORKS",
    "HYBRID_PRESETS",
    "INTERVALS",
    "MOVED",
    "LOSS_REDUCTIONS",
    "NONFINITE",
    "OPTIMIZERS",
    "PAD_MODES",
    "SCHEDULES",
    "TRAINERS",
    "TTA_LEVELS",
    "Augment",
    "DataConfig",
    "Flag",
    "HardwareConfig",
    "HybridConfig",
    "ModelConfig",
    "OptimConfig",
    "OutputConfig",
    "RunConfig",
    "ScheduleConfig",
    "TrainConfig",
    "check_choices",
    "checkpoint_interval",
    "coerce",
    "comma_list",
    "current_paths",
    "get_path",
    "load_yaml",
    "logger_names",
    "merge",
    "nested",
    "opt",
    "parse_assignment",
    "read_yaml",
    "schema_fields",
    "with_implied",
]

"""RunConfig: every knob of one training run, validated, with errors that name the key."""
import difflib
from typing import Literal, Optional

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)


class ConfigError(ValueError):
    """Invalid configuration; the message is one line that names the key."""


# Learning rate when none is given: the recipe's 0.1 for AdaGrad, the DD2424 notes' 1e-3 for
# RMSProp, Kingma & Ba's 1e-3 for Adam; plain and momentum SGD on summed chunk losses need less.
DEFAULT_LEARNING_RATE = {"sgd": 0.003, "momentum": 0.0003, "adagrad": 0.1, "rmsprop": 1e-3,
                         "adam": 1e-3}


class RunConfig(BaseModel):
    """One training run. Defaults are the min-char-rnn recipe on the built-in corpus."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    data: str = Field("pydoc", description="text file path or built-in corpus name")
    cell: Literal["rnn", "lstm", "gru"] = Field("rnn", description="recurrent cell")
    activation: Literal["tanh", "relu", "sigmoid"] = Field("tanh", description="hidden activation")
    hidden_size: int = Field(100, gt=0, description="hidden units per layer")
    num_layers: int = Field(1, ge=1, description="stacked recurrent layers")
    dropout: float = Field(0.0, ge=0, lt=1, description="inverted dropout on each layer's "
                           "output during training")
    seq_length: int = Field(25, gt=0, description="characters per update (BPTT length)")
    learning_rate: Optional[float] = Field(None, gt=0, allow_inf_nan=False, description=(
        "step size (default per optimizer: " + ", ".join(
            f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATE.items()) + ")"))
    optimizer: Literal["sgd", "momentum", "adagrad", "rmsprop", "adam"] = Field(
        "adagrad", description="parameter update rule")
    momentum: float = Field(0.9, ge=0, lt=1, description="momentum of 'momentum'")
    decay: float = Field(0.9, ge=0, lt=1, description="RMSProp's decay of the mean square")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam's decay of the mean")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's decay of the mean square")
    eps: float = Field(1e-8, gt=0, allow_inf_nan=False,
                       description="AdaGrad/RMSProp: inside the square root; Adam: outside")
    clip_mode: Literal["value", "norm", "none"] = Field(
        "value", description="value: every element to [-clip, clip] (the recipe); norm: "
        "scale to a global L2 norm of at most clip")
    clip: float = Field(5.0, gt=0, allow_inf_nan=False, description="clipping threshold")
    init_scale: float = Field(0.01, gt=0, allow_inf_nan=False,
                              description="weights start as randn * init_scale")
    forget_bias: float = Field(0.0, allow_inf_nan=False,
                               description="initial LSTM forget-gate bias (LSTM only)")
    updates: int = Field(10000, ge=0, description="number of parameter updates")
    batch_size: int = Field(1, ge=1, description="parallel streams through the text")
    dtype: Literal["float64", "float32"] = Field("float64", description="floating point type")
    encoding: str = Field("utf-8", description="encoding of a text file (utf-8 with or "
                          "without BOM; latin-1, cp1252, utf-16, ...)")
    newline: Literal["normalize", "keep"] = Field(
        "normalize", description="normalize: Windows (CRLF) and old Mac (CR) line endings "
        "become \\n; keep: leave them as they are")
    min_char_count: int = Field(0, ge=0, description="characters seen fewer times than this "
                                "become one unknown symbol, U+FFFD (0 or 1: off)")
    data_limit: int = Field(0, ge=0, description="use only the first N characters of the "
                            "text (records in records mode), split as usual (0: all of it)")
    records: Optional[str] = Field(None, description="records mode: 'lines', 'jsonl:<field>' "
                                   "or 'csv:<column>'; each record ends with an end symbol and "
                                   "starts from a zero state (None: plain text)")
    val_fraction: float = Field(0.1, ge=0, lt=1,
                                description="tail fraction of the text held out for validation")
    trace_every: int = Field(100, gt=0, description="updates between trace rows")
    eval_every: int = Field(1000, gt=0, description="updates between validation losses")
    sample_every: int = Field(1000, ge=0, description="updates between samples (0: never)")
    sample_length: int = Field(200, gt=0, description="characters per training sample")
    temperature: float = Field(1.0, gt=0, allow_inf_nan=False,
                               description="sampling temperature of training samples")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of the weights, dropout and samples")

    @model_validator(mode="before")
    @classmethod
    def _default_learning_rate(cls, values):
        if isinstance(values, dict) and values.get("learning_rate") is None:
            optimizer = values.get("optimizer", "adagrad")
            if optimizer in DEFAULT_LEARNING_RATE:
                values = {**values, "learning_rate": DEFAULT_LEARNING_RATE[optimizer]}
        return values

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value):
        from .data import CorpusError, check_encoding
        try:
            check_encoding(value)
        except CorpusError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("records")
    @classmethod
    def _records_spec(cls, value):
        if value is not None:
            from .records import check_spec
            check_spec(value)
        return value

    @model_validator(mode="after")
    def _consistent(self):
        if self.forget_bias and self.cell != "lstm":
            raise ValueError(f"forget_bias: applies to the LSTM only (cell is {self.cell!r})")
        return self

    @classmethod
    def build(cls, values, where=""):
        """Validate a mapping into a RunConfig, raising ConfigError with one readable line."""
        values = dict(values)
        unknown = [k for k in values if k not in cls.model_fields]
        if unknown:
            raise ConfigError(where + unknown_key_message(unknown[0], cls.model_fields))
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(where + validation_message(exc)) from None

    def replace(self, **changes):
        """A copy with some fields changed, validated again."""
        return RunConfig.build({**self.model_dump(), **changes})


def unknown_key_message(key, valid):
    close = difflib.get_close_matches(str(key), list(valid), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}"


def validation_message(exc):
    """The first pydantic error as 'key: message (got value)'."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if loc and not msg.startswith(loc + ":"):
        msg = f"{loc}: {msg} (got {err.get('input')!r})"
    return msg

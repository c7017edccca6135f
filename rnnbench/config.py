"""RunConfig: every knob of one training run, validated, with errors that name the key."""
import difflib
import math
import numbers
from collections.abc import Mapping
from typing import Annotated, Literal, Optional

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from .text.loading import CorpusError, check_encoding
from .text.records import check_spec
from .variants import ACTIVATIONS, CELLS, CLIP_MODES, FORGET_GATE_CELLS, OPTIMIZERS


class ConfigError(ValueError):
    """Invalid configuration; the message is one line that names the key."""


# Upper bounds that keep every value storable (int64 columns) and every product of sizes
# within int64 (a weight block is at most 4 * MAX_DIM**2 elements). Whether a storable size
# fits in memory is a separate, up-front estimate.
INT64_MAX = 2**63 - 1
MAX_DIM = 2**24          # hidden_size, seq_length, batch_size
MAX_LAYERS = 1024
MAX_SAMPLE_LENGTH = 10**6  # characters of one sample: a megabyte of text is plenty to study
SEED_LIMIT = 2**32       # seeds are 32-bit: Numba's generator takes a seed modulo 2**32
TEMPERATURE_RANGE = (1e-3, 1e3)  # below, logits / T overflow to inf; use greedy sampling


def _strict_int(value):
    """Integers only: a boolean, a string or a float is refused, never coerced (YAML's
    ``yes`` and ``"16"`` are not numbers); NumPy integers are integers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"Input should be a valid integer, not {_type_name(value)}")
    return int(value)


def _strict_float(value):
    """Finite real numbers only (an int is one); booleans and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"Input should be a valid number, not {_type_name(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("Input should be a finite number")
    return value


def _type_name(value):
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return {str: "a string", float: "a float", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__)


Int = Annotated[int, BeforeValidator(_strict_int)]
Float = Annotated[float, BeforeValidator(_strict_float)]


# Learning rate when none is given (see variants.OPTIMIZERS)
DEFAULT_LEARNING_RATE = {name: o.learning_rate for name, o in OPTIMIZERS.items()}


class RunConfig(BaseModel):
    """One training run. Defaults are the min-char-rnn recipe on the built-in corpus.

    Types are strict wherever a config comes from (grid file, Python, CLI): a boolean or a
    string is never a number and a float never an integer; an integer is a fine float.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    data: str = Field("pydoc", strict=True, description="text file path or built-in corpus name")
    cell: Literal[tuple(CELLS)] = Field("rnn", description="recurrent cell")
    activation: Literal[tuple(ACTIVATIONS)] = Field("tanh", description="hidden activation")
    hidden_size: Int = Field(100, gt=0, le=MAX_DIM, description="hidden units per layer")
    num_layers: Int = Field(1, ge=1, le=MAX_LAYERS, description="stacked recurrent layers")
    dropout: Float = Field(0.0, ge=0, lt=1, description="inverted dropout on each layer's "
                           "output during training")
    seq_length: Int = Field(25, gt=0, le=MAX_DIM, description="characters per update (BPTT "
                            "length)")
    learning_rate: Optional[Float] = Field(None, gt=0, description=(
        "step size (default per optimizer: " + ", ".join(
            f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATE.items()) + ")"))
    optimizer: Literal[tuple(OPTIMIZERS)] = Field(
        "adagrad", description="parameter update rule")
    momentum: Float = Field(0.9, ge=0, lt=1, description="momentum of 'momentum'")
    decay: Float = Field(0.9, ge=0, lt=1, description="RMSProp's decay of the mean square")
    beta1: Float = Field(0.9, ge=0, lt=1, description="Adam's decay of the mean")
    beta2: Float = Field(0.999, ge=0, lt=1, description="Adam's decay of the mean square")
    eps: Float = Field(1e-8, gt=0,
                       description="AdaGrad/RMSProp: inside the square root; Adam: outside")
    clip_mode: Literal[tuple(CLIP_MODES)] = Field(
        "value", description="value: every element to [-clip, clip] (the recipe); norm: "
        "scale to a global L2 norm of at most clip")
    clip: Float = Field(5.0, gt=0, description="clipping threshold")
    init_scale: Float = Field(0.01, gt=0, description="weights start as randn * init_scale")
    forget_bias: Float = Field(0.0, description="initial LSTM forget-gate bias (LSTM only)")
    updates: Int = Field(10000, ge=0, le=INT64_MAX, description="number of parameter updates")
    epochs: Optional[Float] = Field(None, gt=0, le=1e9, description="passes over the "
                                    "training text; when set, it decides the number of "
                                    "updates (computed from the text) in place of updates")
    batch_size: Int = Field(1, ge=1, le=MAX_DIM, description="parallel streams through the text")
    dtype: Literal["float64", "float32"] = Field("float64", description="floating point type")
    encoding: str = Field("utf-8", strict=True, description="encoding of a text file (utf-8 "
                          "with or without BOM; latin-1, cp1252, utf-16, ...)")
    newline: Literal["normalize", "keep"] = Field(
        "normalize", description="normalize: Windows (CRLF) and old Mac (CR) line endings "
        "become \\n; keep: leave them as they are")
    min_char_count: Int = Field(0, ge=0, le=INT64_MAX, description="characters seen fewer "
                                "times than this become one unknown symbol, U+FFFD (0 or 1: "
                                "off)")
    data_limit: Int = Field(0, ge=0, le=INT64_MAX, description="use only the first N "
                            "characters of the text (records in records mode), split as usual "
                            "(0: all of it)")
    records: Optional[str] = Field(None, strict=True, description="records mode: 'lines', "
                                   "'jsonl:<field>' or 'csv:<column>'; each record ends with "
                                   "an end symbol and starts from a zero state (None: plain "
                                   "text)")
    val_fraction: Float = Field(0.1, ge=0, lt=1,
                                description="tail fraction of the text held out for validation")
    val_slice: Int = Field(0, ge=0, le=INT64_MAX, description="characters of the held-out "
                           "tail read at each eval_every (0: all of it); the whole tail is "
                           "read at the end of the run")
    trace_every: Int = Field(100, gt=0, le=INT64_MAX, description="updates between trace rows")
    eval_every: Int = Field(1000, gt=0, le=INT64_MAX,
                            description="updates between validation losses")
    sample_every: Int = Field(1000, ge=0, le=INT64_MAX,
                              description="updates between samples (0: never)")
    sample_length: Int = Field(200, gt=0, le=MAX_SAMPLE_LENGTH,
                               description="characters per training sample")
    temperature: Float = Field(1.0, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1],
                               description="sampling temperature of training samples")
    seed: Int = Field(0, ge=0, lt=SEED_LIMIT, description="seed of the weights, dropout and "
                      "samples")

    @model_validator(mode="before")
    @classmethod
    def _default_learning_rate(cls, values):
        if isinstance(values, dict) and values.get("learning_rate") is None:
            optimizer = values.get("optimizer", "adagrad")
            if isinstance(optimizer, str) and optimizer in DEFAULT_LEARNING_RATE:
                values = {**values, "learning_rate": DEFAULT_LEARNING_RATE[optimizer]}
        return values

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value):
        try:
            check_encoding(value)
        except CorpusError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("records")
    @classmethod
    def _records_spec(cls, value):
        if value is not None:
            check_spec(value)
        return value

    @model_validator(mode="after")
    def _consistent(self):
        if self.forget_bias and self.cell not in FORGET_GATE_CELLS:
            cells = " and ".join(c.upper() for c in FORGET_GATE_CELLS)
            raise ValueError(f"forget_bias: applies to the {cells} only (cell is {self.cell!r})")
        return self

    @classmethod
    def build(cls, values, where=""):
        """Validate a mapping into a RunConfig, raising ConfigError with one readable line."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}expected a mapping of RunConfig fields, got "
                              f"{type(values).__name__}")
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
        msg = f"{loc}: {msg} (got {short_repr(err.get('input'))})"
    return msg


def short_repr(value, limit=60):
    """repr(value), cut to about ``limit`` characters: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def short_value(value):
    """A number as %g, anything else as str: how field values appear in labels."""
    real = isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
    return f"{value:g}" if real else str(value)  # NumPy's floats are numbers.Real too

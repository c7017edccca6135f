"""RunConfig: every knob of one training run, validated, with errors that name the key."""
import difflib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """Invalid configuration; the message is one line that names the key."""


# Values the schema accepts but this version cannot run yet, with the reason shown to the user.
NOT_YET = {
    ("cell", "lstm"): "the LSTM cell is not implemented yet (it arrives with the model issue)",
    ("cell", "gru"): "the GRU cell is not implemented yet (it arrives with the model issue)",
    ("activation", "relu"): "activation 'relu' is not implemented yet (only 'tanh' so far)",
    ("activation", "sigmoid"): "activation 'sigmoid' is not implemented yet (only 'tanh' so far)",
    ("optimizer", "sgd"): "optimizer 'sgd' is not implemented yet (only 'adagrad' so far)",
    ("optimizer", "momentum"): "optimizer 'momentum' is not implemented yet (only 'adagrad' so far)",
    ("optimizer", "rmsprop"): "optimizer 'rmsprop' is not implemented yet (only 'adagrad' so far)",
    ("optimizer", "adam"): "optimizer 'adam' is not implemented yet (only 'adagrad' so far)",
    ("dtype", "float32"): "dtype 'float32' is not implemented yet (only 'float64' so far)",
}


class RunConfig(BaseModel):
    """One training run. Defaults are the min-char-rnn recipe on the built-in corpus."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    data: str = Field("pydoc", description="text file path or built-in corpus name")
    cell: Literal["rnn", "lstm", "gru"] = Field("rnn", description="recurrent cell")
    activation: Literal["tanh", "relu", "sigmoid"] = Field("tanh", description="hidden activation")
    hidden_size: int = Field(100, gt=0, description="hidden units per layer")
    num_layers: int = Field(1, ge=1, le=1, description="stacked recurrent layers (1 so far)")
    seq_length: int = Field(25, gt=0, description="characters per update (BPTT length)")
    learning_rate: float = Field(0.1, gt=0, allow_inf_nan=False, description="step size")
    optimizer: Literal["sgd", "momentum", "adagrad", "rmsprop", "adam"] = Field(
        "adagrad", description="parameter update rule")
    clip: float = Field(5.0, gt=0, allow_inf_nan=False,
                        description="clip every gradient element to [-clip, clip]")
    init_scale: float = Field(0.01, gt=0, allow_inf_nan=False,
                              description="weights start as randn * init_scale")
    updates: int = Field(10000, ge=0, description="number of parameter updates")
    batch_size: int = Field(1, ge=1, le=1, description="parallel streams (1 so far)")
    dtype: Literal["float64", "float32"] = Field("float64", description="floating point type")
    data_limit: int = Field(0, ge=0, description="use only the first N characters of the "
                            "text, split as usual (0: all of it)")
    val_fraction: float = Field(0.1, ge=0, lt=1,
                                description="tail fraction of the text held out for validation")
    trace_every: int = Field(100, gt=0, description="updates between trace rows")
    eval_every: int = Field(1000, gt=0, description="updates between validation losses")
    sample_every: int = Field(1000, ge=0, description="updates between samples (0: never)")
    sample_length: int = Field(200, gt=0, description="characters per training sample")
    temperature: float = Field(1.0, gt=0, allow_inf_nan=False,
                               description="sampling temperature of training samples")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of the weights and the samples")

    @model_validator(mode="after")
    def _implemented(self):
        for field in ("cell", "activation", "optimizer", "dtype"):
            reason = NOT_YET.get((field, getattr(self, field)))
            if reason:
                raise ValueError(f"{field}: {reason}")
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

"""SWE-ReX's runtime request/response models (``swerex.runtime.abstract``), as plain dataclasses.

Same class names, field names and defaults as upstream's pydantic models, so code written against SWE-ReX
reads the same. ``model_dump()`` gives the wire JSON (every field, discriminators included, as pydantic's
``model_dump()`` does); ``from_dict()`` ignores unknown keys (upstream's models do not forbid extras).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T", bound="_Model")


class _Model:
    def model_dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any] | None) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass
class IsAliveResponse(_Model):
    is_alive: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.is_alive


@dataclass
class CreateBashSessionRequest(_Model):
    startup_source: list[str] = field(default_factory=list)
    session: str = "default"
    session_type: Literal["bash"] = "bash"
    startup_timeout: float = 1.0


CreateSessionRequest = CreateBashSessionRequest


@dataclass
class CreateBashSessionResponse(_Model):
    output: str = ""
    session_type: Literal["bash"] = "bash"


CreateSessionResponse = CreateBashSessionResponse


@dataclass
class BashAction(_Model):
    command: str
    session: str = "default"
    timeout: float | None = None
    is_interactive_command: bool = False
    is_interactive_quit: bool = False
    check: Literal["silent", "raise", "ignore"] = "raise"
    error_msg: str = ""
    expect: list[str] = field(default_factory=list)
    action_type: Literal["bash"] = "bash"


@dataclass
class BashInterruptAction(_Model):
    session: str = "default"
    timeout: float = 0.2
    n_retry: int = 3
    expect: list[str] = field(default_factory=list)
    action_type: Literal["bash_interrupt"] = "bash_interrupt"


Action = Union[BashAction, BashInterruptAction]


@dataclass
class BashObservation(_Model):
    output: str = ""
    exit_code: int | None = None
    failure_reason: str = ""
    expect_string: str = ""
    session_type: Literal["bash"] = "bash"


Observation = BashObservation


@dataclass
class CloseBashSessionRequest(_Model):
    session: str = "default"
    session_type: Literal["bash"] = "bash"


CloseSessionRequest = CloseBashSessionRequest


@dataclass
class CloseBashSessionResponse(_Model):
    session_type: Literal["bash"] = "bash"


CloseSessionResponse = CloseBashSessionResponse


@dataclass
class Command(_Model):
    command: str | list[str]
    timeout: float | None = None
    shell: bool = False
    check: bool = False
    error_msg: str = ""
    env: dict[str, str] | None = None
    cwd: str | None = None
    merge_output_streams: bool = False


@dataclass
class CommandResponse(_Model):
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None


@dataclass
class ReadFileRequest(_Model):
    path: str
    encoding: str | None = None
    errors: str | None = None


@dataclass
class ReadFileResponse(_Model):
    content: str = ""


@dataclass
class WriteFileRequest(_Model):
    content: str
    path: str


@dataclass
class WriteFileResponse(_Model):
    pass


@dataclass
class UploadRequest(_Model):
    source_path: str
    target_path: str


@dataclass
class UploadResponse(_Model):
    pass


@dataclass
class CloseResponse(_Model):
    pass


__all__ = [
    "Action",
    "BashAction",
    "BashInterruptAction",
    "BashObservation",
    "CloseBashSessionRequest",
    "CloseBashSessionResponse",
    "CloseResponse",
    "CloseSessionRequest",
    "CloseSessionResponse",
    "Command",
    "CommandResponse",
    "CreateBashSessionRequest",
    "CreateBashSessionResponse",
    "CreateSessionRequest",
    "CreateSessionResponse",
    "IsAliveResponse",
    "Observation",
    "ReadFileRequest",
    "ReadFileResponse",
    "UploadRequest",
    "UploadResponse",
    "WriteFileRequest",
    "WriteFileResponse",
]

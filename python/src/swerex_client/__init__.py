"""swerex-client: the Python side of swerex-ts.

- :mod:`swerex_client.models`, :mod:`swerex_client.exceptions`: SWE-ReX's runtime models and error classes.
- :class:`RuntimeClient`: asyncio client of the swerex-remote protocol (a ``swerex-remote`` server, or a
  sandbox through the control plane's pass-through).
- :class:`SwerexClient`: sandboxes on a ``swerex serve`` control plane.
"""

from .client import Sandbox, SandboxPage, SwerexClient
from .exceptions import (
    BashIncorrectSyntaxError,
    CommandTimeoutError,
    DeploymentNotStartedError,
    DeploymentStartupError,
    DockerPullError,
    DummyOutputsExhaustedError,
    NoExitCodeError,
    NonZeroExitCodeError,
    SessionDoesNotExistError,
    SessionExistsError,
    SessionNotInitializedError,
    SwerexAPIError,
    SwerexException,
)
from .models import (
    Action,
    BashAction,
    BashInterruptAction,
    BashObservation,
    CloseBashSessionRequest,
    CloseBashSessionResponse,
    CloseResponse,
    CloseSessionRequest,
    CloseSessionResponse,
    Command,
    CommandResponse,
    CreateBashSessionRequest,
    CreateBashSessionResponse,
    CreateSessionRequest,
    CreateSessionResponse,
    IsAliveResponse,
    Observation,
    ReadFileRequest,
    ReadFileResponse,
    UploadRequest,
    UploadResponse,
    WriteFileRequest,
    WriteFileResponse,
)
from .runtime import RuntimeClient
from .trainer import TrainerCall, TrainerClient

__version__ = "0.1.0"

__all__ = [
    "Action",
    "BashAction",
    "BashIncorrectSyntaxError",
    "BashInterruptAction",
    "BashObservation",
    "CloseBashSessionRequest",
    "CloseBashSessionResponse",
    "CloseResponse",
    "CloseSessionRequest",
    "CloseSessionResponse",
    "Command",
    "CommandResponse",
    "CommandTimeoutError",
    "CreateBashSessionRequest",
    "CreateBashSessionResponse",
    "CreateSessionRequest",
    "CreateSessionResponse",
    "DeploymentNotStartedError",
    "DeploymentStartupError",
    "DockerPullError",
    "DummyOutputsExhaustedError",
    "IsAliveResponse",
    "NoExitCodeError",
    "NonZeroExitCodeError",
    "Observation",
    "ReadFileRequest",
    "ReadFileResponse",
    "RuntimeClient",
    "Sandbox",
    "SandboxPage",
    "SessionDoesNotExistError",
    "SessionExistsError",
    "SessionNotInitializedError",
    "SwerexAPIError",
    "SwerexClient",
    "SwerexException",
    "TrainerCall",
    "TrainerClient",
    "UploadRequest",
    "UploadResponse",
    "WriteFileRequest",
    "WriteFileResponse",
    "__version__",
]

"""The Python client of the gazeserve service: `GazeClient` (blocking) and `AsyncGazeClient`.

Light by design: httpx, websockets, orjson and numpy, no OpenCV or inference runtime
(`pip install gazeserve[client]`). Results are the engine's own `gazeserve.results` values.

```python
from gazeserve.client import GazeClient

with GazeClient("http://127.0.0.1:8000") as client:
    result = client.analyze("face.jpg")
    face = result.faces[0]
    print(face.gaze.yaw_deg, face.attention.state)
```
"""

from gazeserve.client.async_client import AsyncGazeClient
from gazeserve.client.errors import (
    GazeClientError,
    GazeConnectionError,
    GazeOverloaded,
    GazeProtocolError,
    GazeServiceError,
    GazeTimeoutError,
    ImageEncodingError,
)
from gazeserve.client.images import ImageInput, encode_jpeg
from gazeserve.client.options import ClientOptions, RetryPolicy
from gazeserve.client.parsing import result_from_dict
from gazeserve.client.streaming import (
    DroppedFrames,
    Frame,
    FrameId,
    LandmarksFrame,
    StreamError,
    StreamEvent,
    StreamItem,
    StreamResult,
)
from gazeserve.client.sync_client import GazeClient
from gazeserve.client.wire import Coordinates, LandmarksInput

__all__ = [
    "AsyncGazeClient",
    "ClientOptions",
    "Coordinates",
    "DroppedFrames",
    "Frame",
    "FrameId",
    "GazeClient",
    "GazeClientError",
    "GazeConnectionError",
    "GazeOverloaded",
    "GazeProtocolError",
    "GazeServiceError",
    "GazeTimeoutError",
    "ImageEncodingError",
    "ImageInput",
    "LandmarksFrame",
    "LandmarksInput",
    "RetryPolicy",
    "StreamError",
    "StreamEvent",
    "StreamItem",
    "StreamResult",
    "encode_jpeg",
    "result_from_dict",
]

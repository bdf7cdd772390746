"""The REST application, in TensorFlow Serving's shape (Starlette; ``pip install
"chainrule[serve]"``).

    GET  /healthz                                   {"status": "ok", "models": [...]}
    GET  /v1/models                                 every model and its versions
    GET  /v1/models/{name}[/versions/{v}]           {"model_version_status": [...]}
    GET  /v1/models/{name}[/versions/{v}]/metadata  input and output shapes and dtypes
    POST /v1/models/{name}[/versions/{v}]:predict   {"instances": [...]} or {"inputs": [...]}
                                                    -> {"predictions": [...]}

Every client mistake (not JSON, no instances, an empty list, ragged lists, strings, NaN or
infinity, the wrong shape or dtype, a body over ``max_body_bytes``, an unknown model or
version, a wrong method) is answered with a 4xx and ``{"error": "..."}``; a failure of the
server itself is a 500 with its message, and the server keeps running.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import numpy as np

from .repository import LoadedVersion, ModelRepository, NotFound

__all__ = ["ClientError", "create_app", "parse_instances"]


class ClientError(Exception):
    """A bad request: answered with ``status`` (a 4xx) and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _starlette() -> Any:
    try:
        import starlette.applications  # noqa: F401
        import starlette.responses  # noqa: F401
        import starlette.routing  # noqa: F401
    except ImportError:
        raise ImportError('chainrule serve needs Starlette and uvicorn: '
                          'pip install "chainrule[serve]"') from None
    import starlette

    return starlette


def parse_instances(payload: Any, loaded: LoadedVersion) -> np.ndarray:
    """The batch a predict request's JSON ``payload`` holds, checked against the model's
    input shape and dtype.

    Raises:
        ClientError: 400 with what is wrong.
    """
    if not isinstance(payload, dict):
        raise ClientError(400, 'the body must be a JSON object {"instances": [...]}')
    keys = [k for k in ("instances", "inputs") if k in payload]
    if len(keys) != 1:
        raise ClientError(400, 'give exactly one of "instances" or "inputs"')
    data = payload[keys[0]]
    if not isinstance(data, list):
        raise ClientError(400, f'"{keys[0]}" must be a list of examples')
    if not data:
        raise ClientError(400, f'"{keys[0]}" is empty')
    want = loaded.input_shape
    shown = loaded.dims(want)
    try:
        array = np.array(data, dtype=np.float64)
    except (ValueError, TypeError):
        raise ClientError(400, f'"{keys[0]}" must be numbers in lists of equal lengths '
                               f'(one example of shape {shown}{_free(want)})') from None
    if not np.isfinite(array).all():
        raise ClientError(400, "the inputs hold NaN or infinity")
    got = array.shape[1:]
    if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
        if array.ndim == len(want) and all(w is None or g == w
                                           for g, w in zip(array.shape, want)):
            raise ClientError(400, f"got one example of shape {list(array.shape)}; send a "
                                   f"list of examples: [[...]]")
        raise ClientError(400, f"each example must have shape {shown}{_free(want)}, got "
                               f"{list(got)}")
    for axis, (g, w, limit) in enumerate(zip(got, want, loaded.input_limits)):
        if w is None and g == 0:
            raise ClientError(400, f"the examples are empty along axis {axis}")
        if w is None and limit is not None and g > limit:
            raise ClientError(400, f"model {loaded.name!r} takes at most {limit} along axis "
                                   f"{axis} (its context), got {g}")
    if loaded.dtype.startswith("int"):
        if not (array == np.round(array)).all():
            raise ClientError(400, f"model {loaded.name!r} takes integers ({loaded.dtype})")
        arguments = (loaded.description.get("architecture") or {}).get("arguments") or {}
        vocab = arguments.get("vocab_size")
        if isinstance(vocab, int) and not ((array >= 0) & (array < vocab)).all():
            raise ClientError(400, f"token ids must be in 0..{vocab - 1}")
        return array.astype(loaded.dtype)
    return array.astype(loaded.dtype)


def _free(shape: tuple) -> str:
    return " (-1: any length; all examples of one request alike)" if None in shape else ""


def _version(text: str) -> int:
    if not text.isdigit():
        raise ClientError(400, f"a version is a non-negative integer, got {text!r}")
    return int(text)


def _metadata(loaded: LoadedVersion) -> dict[str, Any]:
    return {"model_spec": {"name": loaded.name, "version": str(loaded.version)},
            "metadata": {"architecture": loaded.description.get("architecture"),
                         "kind": loaded.description.get("kind"),
                         "signature_def": {
                             "inputs": {"shape": [-1, *loaded.dims(loaded.input_shape)],
                                        "dtype": loaded.dtype, **_limits(loaded)},
                             "outputs": {"shape": [-1, *loaded.dims(loaded.output_shape)],
                                         "dtype": "float32"}}}}


def _limits(loaded: LoadedVersion) -> dict[str, Any]:
    """``max_shape`` where a free axis has a longest length (a language model's context)."""
    if not any(limit is not None for limit in loaded.input_limits):
        return {}
    return {"max_shape": [-1, *(-1 if lim is None else lim for lim in loaded.input_limits)]}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def create_app(repository: ModelRepository, *, max_body_bytes: int = 10 * 2**20) -> Any:
    """The Starlette application serving ``repository`` (see the module docstring)."""
    _starlette()
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                return await handler(request)
            except ClientError as exc:
                return error(exc.status, str(exc))
            except NotFound as exc:
                return error(404, str(exc))
            except Exception as exc:  # noqa: BLE001 - a server failure, reported, not fatal
                return error(500, f"{type(exc).__name__}: {exc}")

        return endpoint

    def pick(request: Request) -> LoadedVersion:
        params = request.path_params
        version = _version(params["version"]) if "version" in params else None
        return repository.get(params["name"], version)

    async def body_json(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise ClientError(413, f"the body is over the limit of {max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise ClientError(413, f"the body is over the limit of {max_body_bytes} bytes")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except (ValueError, RecursionError):
            raise ClientError(400, "the body is not valid JSON") from None

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "models": repository.names()})

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"models": [{"name": n, "model_version_status":
                                         repository.status(n)} for n in repository.names()]})

    async def status(request: Request) -> JSONResponse:
        if request.path_params.get("name", "").endswith(":predict"):
            raise ClientError(405, "predict takes POST with a JSON body")
        if "version" in request.path_params:
            loaded = pick(request)
            rows = [r for r in repository.status(loaded.name)
                    if r["version"] == str(loaded.version)]
        else:
            rows = repository.status(request.path_params["name"])
        return JSONResponse({"model_version_status": rows})

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse(_metadata(pick(request)))

    async def predict(request: Request) -> JSONResponse:
        loaded = pick(request)  # this request keeps this version, whatever is swapped in
        x = parse_instances(await body_json(request), loaded)
        out = await asyncio.wrap_future(loaded.predict(x))
        return JSONResponse({"predictions": _json_safe(out.tolist()),
                             "model_version": str(loaded.version)})

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 404)
        detail = getattr(exc, "detail", "not found")
        return error(status, f"{detail}: {request.method} {request.url.path}")

    routes = [
        Route("/healthz", guarded(health)),
        Route("/v1/models", guarded(models)),
        Route("/v1/models/{name}:predict", guarded(predict), methods=["POST"]),
        Route("/v1/models/{name}/versions/{version}:predict", guarded(predict),
              methods=["POST"]),
        Route("/v1/models/{name}/metadata", guarded(metadata)),
        Route("/v1/models/{name}/versions/{version}/metadata", guarded(metadata)),
        Route("/v1/models/{name}/versions/{version}", guarded(status)),
        Route("/v1/models/{name}", guarded(status)),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})

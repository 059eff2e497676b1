"""Running a route's plan for one request (see the package docstring)."""

import email.message
import inspect
import json
from collections.abc import Callable
from typing import Any

import anyio
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.background import BackgroundTasks
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.kit.http.planning.hooks import Answered, ResponseHook
from service.kit.http.planning.plan import Node, Plan, Step, Unplannable
from service.kit.http.routing import (
    ModelField,
    Undefined,
    body_limit_error,
    generic_origin,
    is_body_allowed_for_status_code,
    render_json,
    request_body_to_args,
)


class Solved:
    """One request's state while the plan runs."""

    __slots__ = ("background", "body", "errors", "exits", "response", "shield", "values")

    def __init__(self, body: Any, steps: int, takes_response: bool) -> None:
        self.values: list[Any] = [_PENDING] * steps
        self.errors: list[Any] = []
        self.exits: list[Any] = []
        self.shield = False
        self.body = body
        self.response: Response | None = None
        if takes_response:  # the `Response` a provider or the endpoint sets headers on
            self.response = Response()
            del self.response.headers["content-length"]
            self.response.status_code = None  # type: ignore[assignment]
        self.background: BackgroundTasks | None = None


class Runner:
    """Runs a plan for one route (see the module docstring)."""

    def __init__(self, route: Any, plan: Plan) -> None:
        self.plan = plan
        self.takes_response = plan.takes_response
        self.hooks = [index for index, step in enumerate(plan.steps) if step.hook]
        self.endpoint: Callable[..., Any] = route.dependant.call
        if not inspect.iscoroutinefunction(self.endpoint):
            raise Unplannable("a plain def endpoint or a generator")
        self.body_field: ModelField | None = route.body_field
        self.embed = route._embed_body_fields
        strict = route.strict_content_type
        self.strict = bool(getattr(strict, "value", strict))
        self.status_code: int | None = route.status_code
        self.response_field: ModelField | None = route.response_field
        response_class = route.response_class
        self.default_class = not hasattr(response_class, "value") or (
            response_class.value is JSONResponse
        )
        self.response_class: type[Response] = getattr(response_class, "value", response_class)
        annotation = self.response_field.field_info.annotation if self.response_field else None
        self.response_type = annotation if isinstance(annotation, type) else None
        # A generic model's page (`Page[PostPublic]`) may come back as its origin (`Page`):
        # already built from typed values, it is rendered as it is, like the exact type.
        origin = generic_origin(self.response_type)
        self.trusted = tuple(t for t in (self.response_type, origin) if t)
        self.by_alias = route.response_model_by_alias
        if any(
            (
                route.response_model_include,
                route.response_model_exclude,
                route.response_model_exclude_unset,
                route.response_model_exclude_defaults,
                route.response_model_exclude_none,
            )
        ):
            raise Unplannable("response_model include/exclude options")

    async def __call__(self, request: Request) -> Response:
        body = await self._body(request) if self.body_field is not None else Undefined
        solved = Solved(body, len(self.plan.steps), self.takes_response)
        try:
            try:
                response = await self._run(request, solved)
            except BaseException as error:
                await self._exit(solved, error)
                raise
            sent = len(solved.response.raw_headers) if solved.response is not None else 0
            await self._exit(solved, None)
        except Answered as answered:
            return answered.response
        # Headers a provider set as it exited (the commit's consistency token) are sent too.
        if solved.response is not None and len(solved.response.raw_headers) > sent:
            response.raw_headers.extend(solved.response.raw_headers[sent:])
        for index in self.hooks:
            if isinstance(value := solved.values[index], ResponseHook):
                await value.after_commit(response)
        return response

    async def _run(self, request: Request, solved: Solved) -> Response:
        values = await self._solve(self.plan.root, request, solved)
        if solved.errors:
            body = None if solved.body is Undefined else solved.body
            raise RequestValidationError(solved.errors, body=body)
        response = self._response(await self.endpoint(**values), solved)
        for index in self.hooks:
            if isinstance(value := solved.values[index], ResponseHook):
                await value.before_commit(response)
        return response

    async def _solve(self, node: Node, request: Request, solved: Solved) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, index in node.subs:
            value = solved.values[index]
            if value is _PENDING:
                step = self.plan.steps[index]
                before = len(solved.errors)
                arguments = await self._solve(step.node, request, solved)
                if len(solved.errors) > before:
                    continue
                value = await self._call(step, arguments, request, solved)
                solved.values[index] = value
            if name is not None:
                values[name] = value
        for name, param in node.params:
            value, errors = param.read(request)
            if errors:
                solved.errors.extend(errors)
            else:
                values[name] = value
        if node.body:
            body_values, body_errors = await request_body_to_args(
                body_fields=node.body, received_body=solved.body, embed_body_fields=self.embed
            )
            values.update(body_values)
            solved.errors.extend(body_errors)
        for name in node.request:
            values[name] = request
        if node.response:
            values[node.response] = solved.response
        if node.background:
            if solved.background is None:
                solved.background = BackgroundTasks()
            values[node.background] = solved.background
        if node.scopes:
            values[node.scopes[0]] = node.scopes[1]
        return values

    async def _call(
        self, step: Step, arguments: dict[str, Any], request: Request, solved: Solved
    ) -> Any:
        if step.kind == "async":
            return await step.call(**arguments)
        if step.kind == "sync":
            return await run_in_threadpool(step.call, **arguments)
        generator = step.call(**arguments)
        value = await generator.__anext__()
        if step.request_scoped:
            stack = request.scope["fastapi_inner_astack"]
            stack.push_async_exit(lambda *exc: _close(generator, exc[1]))
        else:
            solved.exits.append(generator)
            solved.shield = solved.shield or step.shielded
        return value

    async def _exit(self, solved: Solved, failed: BaseException | None) -> None:
        """Function-scoped providers exit, innermost first; an error raised by an exit replaces
        the one it was given, as in `contextlib.AsyncExitStack`. Shielded from cancellation
        when a provider asks for it (`shielded`: a session commits or rolls back even if the
        task is cancelled); a cancel scope per request is too dear for the others."""
        if solved.shield:
            with anyio.CancelScope(shield=True):
                raised = await self._close_all(solved, failed)
        else:
            raised = await self._close_all(solved, failed)
        if raised is not None and raised is not failed:
            raise raised

    @staticmethod
    async def _close_all(solved: Solved, failed: BaseException | None) -> BaseException | None:
        raised = failed
        while solved.exits:
            try:
                await _close(solved.exits.pop(), raised)
            except BaseException as error:
                raised = error
        return raised

    async def _body(self, request: Request) -> Any:
        """The body as FastAPI reads it: JSON for a JSON media type, bytes otherwise; JSON that
        does not parse is a 422, a body that cannot be read at all a 400."""
        try:
            raw = await request.body()
            if not raw or not self._is_json(request.headers.get("content-type")):
                return raw or Undefined
            return json.loads(raw)
        except json.JSONDecodeError as error:
            issue = {
                "type": "json_invalid",
                "loc": ("body", error.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": error.msg},
            }
            raise RequestValidationError([issue], body=error.doc) from error
        except HTTPException:
            raise
        except Exception as error:
            if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (limit := body_limit_error(error)):
                raise limit from error
            raise HTTPException(400, "There was an error parsing the body") from error

    def _is_json(self, content_type: str | None) -> bool:
        if not content_type:
            return not self.strict
        message = email.message.Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        return message.get_content_maintype() == "application" and (
            subtype == "json" or subtype.endswith("+json")
        )

    def _response(self, content: Any, solved: Solved) -> Response:
        if isinstance(content, Response):
            if content.background is None:
                content.background = solved.background
            return content
        status = (solved.response and solved.response.status_code) or self.status_code
        arguments: dict[str, Any] = {"background": solved.background}
        if status is not None:
            arguments["status_code"] = status
        if self.response_field is not None and self.default_class:
            if type(content) in self.trusted:
                assert isinstance(content, BaseModel)
                body = render_json(content, by_alias=self.by_alias)
            else:
                value, errors = self.response_field.validate(content, {}, loc=("response",))
                if errors:
                    raise RequestValidationError(errors)
                body = self.response_field.serialize_json(value, by_alias=self.by_alias)
            response = Response(body, media_type="application/json", **arguments)
        else:
            response = self.response_class(content, **arguments)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        if solved.response is not None:
            response.raw_headers.extend(solved.response.raw_headers)
        return response


_PENDING = object()


async def _close(generator: Any, error: BaseException | None) -> bool:
    """Leave a yield provider as `contextlib.asynccontextmanager` does."""
    if error is None:
        try:
            await generator.__anext__()
        except StopAsyncIteration:
            return False
        raise RuntimeError(f"{generator} did not stop after its yield")
    try:
        await generator.athrow(error)
    except StopAsyncIteration:
        return True
    except BaseException as raised:
        if raised is error:
            return False
        raise
    raise RuntimeError(f"{generator} did not stop after an exception")

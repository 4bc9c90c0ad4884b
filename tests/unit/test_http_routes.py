"""Route templates and the function router: matching, constraints, methods, specificity."""

from __future__ import annotations

import pytest
from aiohttp import web

from bindings.http import FunctionRoute
from bindings.http_routes import RouteTemplate, split_path
from durable_ext.errors import ConfigurationError
from durable_ext.host.http_server import HttpRouter, RouteMatch, RouteMiss


async def _unused_handler(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    raise AssertionError("handlers are not called in routing tests")


def _route(name: str, template: str, methods: tuple[str, ...] = ()) -> FunctionRoute:
    return FunctionRoute(name, template, frozenset(m.upper() for m in methods), _unused_handler)


def _match(template: str, path: str) -> dict[str, str] | None:
    return RouteTemplate.parse(template).match(split_path(path))


def _router(*routes: FunctionRoute, prefix: str = "api") -> HttpRouter:
    router = HttpRouter(prefix)
    for route in routes:
        router.add(route)
    return router


def _matched_name(router: HttpRouter, method: str, path: str) -> str:
    found = router.match(method, path)
    assert isinstance(found, RouteMatch), found
    return found.route.function_name


# --------------------------------------------------------------------------- templates


def test_literal_segments_match_case_insensitively() -> None:
    assert _match("api/Hello", "/API/hello") == {}
    assert _match("api/hello", "/api/hello/") == {}
    assert _match("api/hello", "/api/hell") is None
    assert _match("api/hello", "/api/hello/more") is None


def test_parameters_capture_decoded_values() -> None:
    assert _match("orchestrators/{functionName}", "/orchestrators/Hello") == {"functionName": "Hello"}
    assert _match("items/{id}", "/items/a%20b") == {"id": "a b"}
    assert _match("items/{id}", "/items/a%2Fb") == {"id": "a/b"}
    assert _match("items/{id}", "/items") is None


def test_optional_trailing_parameters() -> None:
    template = "start/{name}/{id?}"
    assert _match(template, "/start/x") == {"name": "x"}
    assert _match(template, "/start/x/42") == {"name": "x", "id": "42"}
    assert _match(template, "/start/x/42/extra") is None
    assert _match("a/{b?}/{c?}", "/a") == {}


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("int", "-42", "4x"),
        ("int", "2147483647", "2147483648"),
        ("alpha", "abcXYZ", "abc1"),
        ("guid", "5b9a0b8e-3f3c-4c1a-9d7e-1f2a3b4c5d6e", "not-a-guid"),
        ("bool", "True", "yes"),
        ("minlength(3)", "abc", "ab"),
        ("range(1,10)", "10", "11"),
        ("regex(^\\d{3}$)", "123", "1234"),
    ],
)
def test_constraints_filter_values(constraint: str, good: str, bad: str) -> None:
    template = f"items/{{id:{constraint}}}"
    assert _match(template, f"/items/{good}") == {"id": good}
    assert _match(template, f"/items/{bad}") is None


def test_chained_constraints_all_apply() -> None:
    assert _match("items/{id:int:min(1)}", "/items/5") == {"id": "5"}
    assert _match("items/{id:int:min(1)}", "/items/0") is None


def test_catch_all_takes_the_rest_of_the_path() -> None:
    assert _match("files/{*path}", "/files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert _match("files/{*path}", "/files") == {}
    assert _match("files/{*path}", "/other/a") is None


def test_mixed_segments_capture_each_parameter() -> None:
    assert _match("files/{name}.{ext}", "/files/report.final.pdf") == {"name": "report", "ext": "final.pdf"}
    assert _match("files/{name}.{ext}", "/files/report") is None


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("a/{id?}/b", "trailing"),
        ("a/{*rest}/b", "last segment"),
        ("a/{id:nope}", "unknown constraint 'nope'"),
        ("a/{id}/{ID}", "repeat"),
        ("a/{id", "unmatched"),
        ("a/{x}{y}", "literal between"),
        ("a/{id=5}", "default values"),
    ],
)
def test_invalid_templates_are_reported(template: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid HTTP route template") as error:
        RouteTemplate.parse(template)
    assert problem in str(error.value)


# --------------------------------------------------------------------------- router


def test_router_applies_route_prefix() -> None:
    router = _router(_route("hello", "hello"))
    assert _matched_name(router, "GET", "/api/hello") == "hello"
    assert router.match("GET", "/hello") == RouteMiss(404)


@pytest.mark.parametrize("prefix", ["", "/"])
def test_empty_route_prefix_means_no_prefix(prefix: str) -> None:
    router = _router(_route("hello", "hello"), prefix=prefix)
    assert _matched_name(router, "GET", "/hello") == "hello"
    assert router.match("GET", "/api/hello") == RouteMiss(404)


def test_multi_segment_route_prefix() -> None:
    router = _router(_route("hello", "hello"), prefix="v1/fn")
    assert _matched_name(router, "GET", "/v1/fn/hello") == "hello"


def test_methods_filter_case_insensitively_and_405_lists_allowed() -> None:
    router = _router(_route("read", "items", ("get",)), _route("write", "items", ("POST", "put")))
    assert _matched_name(router, "get", "/api/items") == "read"
    assert _matched_name(router, "PUT", "/api/items") == "write"
    assert router.match("DELETE", "/api/items") == RouteMiss(405, frozenset({"GET", "POST", "PUT"}))


def test_no_methods_means_every_method() -> None:
    router = _router(_route("any", "any"))
    for method in ("GET", "POST", "PATCH", "DELETE", "OPTIONS"):
        assert _matched_name(router, method, "/api/any") == "any"


def test_more_literal_segments_win_regardless_of_registration_order() -> None:
    router = _router(
        _route("catch", "{*rest}"), _route("by_name", "items/{name}"), _route("new", "items/new")
    )
    assert _matched_name(router, "GET", "/api/items/new") == "new"
    assert _matched_name(router, "GET", "/api/items/other") == "by_name"
    assert _matched_name(router, "GET", "/api/elsewhere/x") == "catch"


def test_constrained_parameter_wins_over_plain_parameter() -> None:
    router = _router(_route("by_name", "items/{name}"), _route("by_id", "items/{id:int}"))
    found = router.match("GET", "/api/items/7")
    assert isinstance(found, RouteMatch)
    assert (found.route.function_name, found.params) == ("by_id", {"id": "7"})
    assert _matched_name(router, "GET", "/api/items/seven") == "by_name"


def test_method_mismatch_falls_through_to_a_less_specific_route() -> None:
    router = _router(_route("get_new", "items/new", ("GET",)), _route("post_any", "items/{name}", ("POST",)))
    assert _matched_name(router, "POST", "/api/items/new") == "post_any"


def test_remove_and_replace_routes() -> None:
    router = _router(_route("hello", "hello"))
    router.add(_route("hello", "greet"))
    assert [template for _, template in router.routes()] == ["api/greet"]
    router.remove("hello")
    assert router.match("GET", "/api/greet") == RouteMiss(404)

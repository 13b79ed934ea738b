"""The http step against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.http import HttpConfig, HttpExecutor
from orchestrator.steps.registry import get_executor
from support.local_http import LocalHttpServer, Reply, closed_port


def run(config: dict, *, settings: Settings | None = None, ctx: StepContext | None = None):
    executor = HttpExecutor(settings or Settings(egress_allow=[], egress_allow_private=True))
    return executor.execute(HttpConfig.model_validate(config), {}, ctx or StepContext("exec-1", "fetch"))


def fail(config: dict, **kwargs) -> StepError:
    with pytest.raises(StepError) as caught:
        run(config, **kwargs)
    return caught.value


def test_registry_serves_the_http_executor():
    # Given the built-in registry / When asking for "http" / Then it is this executor
    assert isinstance(get_executor("http"), HttpExecutor)


def test_get_with_headers_and_query_returns_seed_002_output(local_http: LocalHttpServer):
    # Given an API that answers JSON
    local_http.route("GET", "/data", Reply(200, json_body={"items": [1, 2]}, headers={"X-Total": "2"}))
    # When the step fetches it with a header and query parameters (a list repeats the key)
    result = run({
        "method": "get",
        "url": local_http.url("/data"),
        "headers": {"Authorization": "Bearer t0k3n", "X-Count": 3},
        "query": {"page": 2, "tag": ["a", "b"], "exact": True, "skip": None},
    })
    # Then the output is seed 002's status_code/headers/body, the body parsed from JSON
    assert result.output["status_code"] == 200
    assert result.output["body"] == {"items": [1, 2]}
    assert result.output["headers"]["x-total"] == "2"
    sent = local_http.requests_to("/data")[0]
    assert sent.headers["authorization"] == "Bearer t0k3n" and sent.headers["x-count"] == "3"
    assert sent.query == {"page": ["2"], "tag": ["a", "b"], "exact": ["true"]}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_json_body_is_sent_with_its_content_type(local_http: LocalHttpServer, method: str):
    # Given an endpoint that echoes what it got
    local_http.route(method, "/items", lambda req: Reply(201, json_body={"got": req.json(), "type": req.headers["content-type"]}))
    # When the step sends a JSON body
    result = run({"method": method, "url": local_http.url("/items"), "json": {"name": "x", "n": [1]},
                  "accepted_status": ["2xx"]})
    # Then the server received that JSON as application/json
    assert result.output["body"] == {"got": {"name": "x", "n": [1]}, "type": "application/json"}


def test_raw_body_is_sent_as_is_and_text_answers_stay_text(local_http: LocalHttpServer):
    # Given an endpoint answering plain text
    local_http.route("POST", "/raw", lambda req: Reply(200, body=b"len=" + str(len(req.body)).encode(),
                                                       headers={"Content-Type": "text/plain"}))
    # When the step posts a raw body
    result = run({"method": "POST", "url": local_http.url("/raw"), "body": "a,b,c\n1,2,3",
                  "headers": {"Content-Type": "text/csv"}})
    # Then the body arrived unchanged and the text answer is not parsed
    assert local_http.requests_to("/raw")[0].body == b"a,b,c\n1,2,3"
    assert result.output["body"] == "len=11"


def test_json_content_type_variants_are_parsed_and_bad_json_is_kept_as_text(local_http: LocalHttpServer):
    # Given a problem+json answer and a server that lies about its content type
    local_http.route("GET", "/problem", Reply(200, body='{"title": "x"}',
                                              headers={"Content-Type": "application/problem+json; charset=utf-8"}))
    local_http.route("GET", "/liar", Reply(200, body="not json", headers={"Content-Type": "application/json"}))
    # When both are fetched / Then the first is parsed, the second reported as text
    assert run({"url": local_http.url("/problem")}).output["body"] == {"title": "x"}
    assert run({"url": local_http.url("/liar")}).output["body"] == "not json"


def test_json_and_body_together_are_a_config_error():
    # Given a config with both json and body / When validated / Then it is refused before any run
    with pytest.raises(ValueError, match="either json or body"):
        HttpConfig.model_validate({"url": "http://127.0.0.1/", "json": {}, "body": "x"})


@pytest.mark.parametrize("bad", [{"url": "ftp://host/x"}, {"url": "/relative"}, {"url": "http://h", "method": "BREW"},
                                 {"url": "http://h", "accepted_status": ["9xx"]}, {"url": "http://h", "timeout": "soon"},
                                 {"url": "http://h", "extra": 1}])
def test_bad_configs_are_refused_at_validation(bad: dict):
    # Given a config mistake / When validated / Then pydantic reports it
    with pytest.raises(ValueError):
        HttpConfig.model_validate(bad)


def test_accepted_status_codes_widen_success(local_http: LocalHttpServer):
    # Given an endpoint answering 404
    local_http.route("GET", "/missing", Reply(404, body="nope"))
    # When 404 is listed as accepted (as a number or a range) / Then the step succeeds with the answer
    assert run({"url": local_http.url("/missing"), "accepted_status": [200, 404]}).output["status_code"] == 404
    assert run({"url": local_http.url("/missing"), "accepted_status": ["400-404"]}).output["status_code"] == 404
    # And a 200 outside the accepted list fails the step
    local_http.route("GET", "/ok", Reply(200))
    assert fail({"url": local_http.url("/ok"), "accepted_status": ["3xx"]}).error == "Http.200"


def test_client_errors_are_not_retryable_and_keep_the_response(local_http: LocalHttpServer):
    # Given an endpoint that rejects the request
    local_http.route("POST", "/orders", Reply(422, json_body={"error": "sku missing"}))
    # When the step calls it
    error = fail({"method": "POST", "url": local_http.url("/orders") + "?api_key=s3cr3t-value", "json": {}})
    # Then the failure is Http.422, not retryable, with the response as output and the reason in the cause
    assert (error.error, error.retryable) == ("Http.422", False)
    assert error.output["body"] == {"error": "sku missing"}
    assert "sku missing" in error.cause and "/orders" in error.cause
    # And the query string (which may hold credentials) is not in the cause
    assert "s3cr3t-value" not in error.cause


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(local_http: LocalHttpServer, status: int):
    # Given a failing server / When called / Then Http.<status>, retryable
    local_http.route("GET", "/flaky", Reply(status))
    error = fail({"url": local_http.url("/flaky")})
    assert (error.error, error.retryable) == (f"Http.{status}", True)


@pytest.mark.parametrize(("status", "retry_after", "expected"), [(429, "7", 7.0), (503, "120", 120.0), (429, None, None)])
def test_retry_after_is_exposed_on_the_error(local_http: LocalHttpServer, status, retry_after, expected):
    # Given a rate-limited or unavailable server that may say when to come back
    local_http.route("GET", "/limited", Reply(status, headers={"Retry-After": retry_after} if retry_after else {}))
    # When called
    error = fail({"url": local_http.url("/limited")})
    # Then the error is retryable and carries retry_after seconds for the step runner
    assert error.retryable is True
    assert error.retry_after == expected


def test_retry_after_as_http_date(local_http: LocalHttpServer):
    # Given a Retry-After given as an HTTP date 30 s ahead
    from email.utils import formatdate

    local_http.route("GET", "/later", Reply(503, headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)}))
    # When called / Then retry_after is about 30 seconds
    assert 25 <= fail({"url": local_http.url("/later")}).retry_after <= 31


def test_timeout_is_retryable(local_http: LocalHttpServer):
    # Given a server that takes 3 s to answer
    local_http.route("GET", "/slow", Reply(200, delay=3))
    # When the step allows 0.3 s
    started = time.monotonic()
    error = fail({"url": local_http.url("/slow"), "timeout": "300ms"})
    # Then it fails fast as Http.Timeout, retryable
    assert (error.error, error.retryable) == ("Http.Timeout", True)
    assert time.monotonic() - started < 2


def test_the_step_timeout_bounds_the_config_timeout(local_http: LocalHttpServer):
    # Given a slow server, a generous config timeout and a short step timeout
    local_http.route("GET", "/slow", Reply(200, delay=3))
    ctx = StepContext("exec-1", "fetch", timeout_seconds=0.3)
    # When called / Then the shorter step timeout wins
    started = time.monotonic()
    assert fail({"url": local_http.url("/slow"), "timeout": "30s"}, ctx=ctx).error == "Http.Timeout"
    assert time.monotonic() - started < 2


def test_connection_refused_is_retryable():
    # Given a port nothing listens on / When called / Then a retryable connection error
    error = fail({"url": f"http://127.0.0.1:{closed_port()}/x", "timeout": "2s"})
    assert error.error == "Http.Connection" and error.retryable is True


def test_redirects_are_followed_or_returned(local_http: LocalHttpServer):
    # Given a redirect to another path
    local_http.route("GET", "/old", Reply(302, headers={"Location": "/new"}))
    local_http.route("GET", "/new", Reply(200, json_body={"here": True}))
    # When followed (the default) / Then the final answer is the output
    assert run({"url": local_http.url("/old")}).output["body"] == {"here": True}
    # When not followed / Then the 302 fails the step unless 3xx is accepted
    assert fail({"url": local_http.url("/old"), "follow_redirects": False}).error == "Http.302"
    out = run({"url": local_http.url("/old"), "follow_redirects": False, "accepted_status": ["2xx", "3xx"]}).output
    assert out["status_code"] == 302 and out["headers"]["location"] == "/new"


def test_response_size_cap(local_http: LocalHttpServer):
    # Given an answer larger than the cap / When fetched / Then a non-retryable Http.ResponseTooLarge
    local_http.route("GET", "/big", Reply(200, body=b"x" * 5000))
    error = fail({"url": local_http.url("/big"), "max_response_bytes": 1000})
    assert (error.error, error.retryable) == ("Http.ResponseTooLarge", False)


def test_head_request_has_empty_body(local_http: LocalHttpServer):
    # Given an endpoint / When asked with HEAD / Then the body is empty text
    local_http.route("HEAD", "/h", Reply(200, body="ignored"))
    assert run({"method": "HEAD", "url": local_http.url("/h")}).output["body"] == ""


def test_secrets_are_masked_in_causes(local_http: LocalHttpServer):
    # Given a server that echoes the token it was sent in its error
    local_http.route("GET", "/echo", lambda req: Reply(401, body=f"bad token {req.headers['authorization']}"))
    ctx = StepContext("exec-1", "fetch", mask=lambda text: text.replace("t0k3n-value", "***"))
    # When the call fails / Then the cause went through ctx.mask
    error = fail({"url": local_http.url("/echo"), "headers": {"Authorization": "Bearer t0k3n-value"}}, ctx=ctx)
    assert "t0k3n-value" not in error.cause and "***" in error.cause


def test_connections_are_reused(local_http: LocalHttpServer):
    # Given a keep-alive server
    local_http.route("GET", "/r", Reply(200, body="ok"))
    # When the step runs three times with equal settings
    for _ in range(3):
        run({"url": local_http.url("/r")}, settings=Settings(egress_allow=[], egress_allow_private=True))
    # Then the three requests came over one pooled connection (one client per egress policy)
    assert len({req.client_port for req in local_http.requests_to("/r")}) == 1

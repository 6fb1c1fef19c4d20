"""msgraph-sdk (the Python Graph SDK) creates, reads and ends a call on a Graph-like target.

Usage: graph_msgraph.py BASE_URL     (with the version prefix, e.g. http://127.0.0.1:8080/v1.0)

The SDK's own request adapter is pointed at BASE_URL and authenticates with a static bearer
token (the reference target accepts any). A small HTTP receiver on 127.0.0.1 is the call's
callback. Prints one JSON object (the call id, what each step saw, how many notifications
arrived); exits non-zero, naming the step, when the target does not behave as documented.
"""

import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.call import Call
from msgraph.generated.models.identity import Identity
from msgraph.generated.models.identity_set import IdentitySet
from msgraph.generated.models.invitation_participant_info import InvitationParticipantInfo
from msgraph.generated.models.modality import Modality
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.service_hosted_media_config import ServiceHostedMediaConfig

TOKEN = "interop-static-token"


class StaticToken(AccessTokenProvider):
    """Hands out the same token for any URL (the SDK's Azure providers need a tenant)."""

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return TOKEN

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


class Callback(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        Callback.received.append(self.rfile.read(min(length, 1 << 20)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def fail(step, message):
    print(f"msgraph-sdk: {step}: {message}", file=sys.stderr)
    sys.exit(1)


def odata_error(e):
    code = e.error.code if e.error else None
    return f"{e.response_status_code} {code}: {e.error.message if e.error else e}"


async def run(base_url, callback_url):
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken()))
    adapter.base_url = base_url
    client = GraphServiceClient(request_adapter=adapter)
    calls = client.communications.calls
    body = Call(
        callback_uri=callback_url,
        targets=[
            InvitationParticipantInfo(
                identity=IdentitySet(
                    user=Identity(
                        id="8d1b3c5a-0b34-4d7a-9e6e-7f3c2a4c9b10",
                        display_name="John",
                    )
                )
            )
        ],
        requested_modalities=[Modality.Audio],
        media_config=ServiceHostedMediaConfig(),
        tenant_id="aa67bd4c-8475-432d-bd41-39f255720e0a",
    )
    try:
        created = await calls.post(body)
    except ODataError as e:
        fail("create", odata_error(e))
    if created is None or not created.id:
        fail("create", "no call id in the answer")
    seen = {"id": created.id, "created_state": str(created.state)}

    try:
        got = await calls.by_call_id(created.id).get()
    except ODataError as e:
        fail("get", odata_error(e))
    if got is None or got.id != created.id:
        fail("get", f"answered another call: {got and got.id!r}")
    if got.callback_uri != callback_url:
        fail("get", f"callbackUri {got.callback_uri!r}, expected {callback_url!r}")
    seen["got_state"] = str(got.state)

    try:
        await calls.by_call_id(created.id).delete()
    except ODataError as e:
        fail("delete", odata_error(e))

    try:
        await calls.by_call_id(created.id).get()
        fail("get after delete", "answered instead of 404")
    except ODataError as e:
        if e.response_status_code != 404:
            fail("get after delete", f"expected 404, got {odata_error(e)}")
        if not e.error or not e.error.code:
            fail("get after delete", "the ODataError has no error.code")
        seen["after_delete"] = {"status": e.response_status_code, "code": e.error.code}
    return seen


def main():
    if len(sys.argv) != 2:
        fail("usage", "graph_msgraph.py BASE_URL")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    callback_url = f"http://127.0.0.1:{server.server_address[1]}/callbacks/interop"
    try:
        seen = asyncio.run(run(sys.argv[1].rstrip("/"), callback_url))
    finally:
        server.shutdown()
    seen["notifications"] = len(Callback.received)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()

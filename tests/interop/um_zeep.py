"""zeep, built from the reference target's WSDL, drives a UM call from start to end.

Usage: um_zeep.py WSDL_URL

Runs PlayOnPhone, GetCallInfo, Disconnect, GetCallInfo after Disconnect and GetCallInfo
on an unknown CallId. Prints one JSON object on stdout: every request zeep sent (its
operation, SOAPAction header and envelope) and the soapAction the WSDL declares for each
operation, so the caller can compare them with what callconform sends. Exits non-zero,
naming the step, when the service does not behave as documented.
"""

import base64
import json
import sys

import zeep
import zeep.exceptions
from lxml import etree
from zeep import Plugin

# The documented EventCause values (eventcause-um-web-service.md plus `Unavailable`).
EVENT_CAUSES = {"None", "UserBusy", "NoAnswer", "Unavailable", "Other"}
ENTRY_ID = (
    "AAAAAGsd2rbQLVtLobUGbrq/9IUHAEX2ikn/L8JJtI5WHI0FAW8AAAFXHhsAACxVpEl+"
    "KVVLl957wp//x6UAGAetcDUAAA=="
)


class Recorder(Plugin):
    """Keeps what goes on the wire: the SOAPAction header and the envelope."""

    def __init__(self):
        self.sent = []

    def egress(self, envelope, http_headers, operation, binding_options):
        self.sent.append(
            {
                "operation": operation.name,
                "soap_action": http_headers.get("SOAPAction"),
                "body": etree.tostring(envelope, encoding="unicode"),
            }
        )
        return envelope, http_headers


def fail(step, message):
    print(f"zeep: {step}: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage", "um_zeep.py WSDL_URL")
    recorder = Recorder()
    client = zeep.Client(sys.argv[1], plugins=[recorder])
    service = client.service
    declared = {
        name: op.soapaction
        for name, op in client.service._binding._operations.items()
    }

    try:
        call_id = service.PlayOnPhone(entryId=ENTRY_ID, DialString="12345")
    except zeep.exceptions.Fault as f:
        fail("PlayOnPhone", f"fault {f.code}: {f.message}")
    if not isinstance(call_id, str) or not call_id:
        fail("PlayOnPhone", f"no CallId in the answer: {call_id!r}")

    def call_info(step):
        try:
            info = service.GetCallInfo(CallId=call_id)
        except zeep.exceptions.Fault as f:
            fail(step, f"fault {f.code}: {f.message}")
        if info is None:
            fail(step, "no UMCallInfo in the answer")
        return info

    info = call_info("GetCallInfo")
    if (info.CallState, info.EventCause) != ("Connected", "None"):
        fail("GetCallInfo", f"expected Connected/None, got {info.CallState}/{info.EventCause}")

    try:
        service.Disconnect(CallId=call_id)
    except zeep.exceptions.Fault as f:
        fail("Disconnect", f"fault {f.code}: {f.message}")

    info = call_info("GetCallInfo after Disconnect")
    if info.CallState != "Disconnected":
        fail("GetCallInfo after Disconnect", f"CallState {info.CallState}, expected Disconnected")
    if info.EventCause not in EVENT_CAUSES:
        fail("GetCallInfo after Disconnect", f"EventCause {info.EventCause} is undocumented")
    # The client hung up: nothing went wrong, so the cause is None.
    if info.EventCause != "None":
        fail("GetCallInfo after Disconnect", f"EventCause {info.EventCause}, expected None")

    unknown = base64.b64encode(
        b"00000000-0000-4000-8000-000000000000|um.reference.callconform.invalid"
    ).decode()
    try:
        service.GetCallInfo(CallId=unknown)
        fail("GetCallInfo on an unknown CallId", "answered instead of faulting")
    except zeep.exceptions.Fault as f:
        if "InvalidCallIdException" not in (f.code or ""):
            fail("GetCallInfo on an unknown CallId", f"fault code {f.code!r}")
        if f.message != "The call ID is not valid.":
            fail("GetCallInfo on an unknown CallId", f"fault message {f.message!r}")

    print(json.dumps({"declared": declared, "sent": recorder.sent}))


if __name__ == "__main__":
    main()

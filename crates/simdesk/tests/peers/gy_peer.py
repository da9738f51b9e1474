#!/usr/bin/env python3
"""A Gy client that is not simdesk's own code: python-diameter (PyPI), an implementation of
Diameter independent of the Rust crate simdesk builds on, drives simdesk's Gy server the way a
PGW would — CER, DWR, CCR-Initial/Update/Termination with Multiple-Services-Credit-Control,
Subscription-Id and 3GPP Service-Information, then DPR — and prints what came back as one
JSON object for tests/gy.rs to judge.

Usage: gy_peer.py HOST PORT
"""
import datetime
import json
import socket
import sys

from diameter.message import Message
from diameter.message.avp.grouped import (
    GrantedServiceUnit,
    MultipleServicesCreditControl,
    PsInformation,
    ServiceInformation,
    SubscriptionId,
    UsedServiceUnit,
)
from diameter.message.commands import (
    CapabilitiesExchangeRequest,
    CreditControlRequest,
    DeviceWatchdogRequest,
    DisconnectPeerRequest,
)
from diameter.message.constants import (
    E_CC_REQUEST_TYPE_INITIAL_REQUEST,
    E_CC_REQUEST_TYPE_TERMINATION_REQUEST,
    E_CC_REQUEST_TYPE_UPDATE_REQUEST,
    E_DISCONNECT_CAUSE_DO_NOT_WANT_TO_TALK_TO_YOU,
    E_SUBSCRIPTION_ID_TYPE_END_USER_E164,
    E_SUBSCRIPTION_ID_TYPE_END_USER_IMSI,
    E_TERMINATION_CAUSE_DIAMETER_LOGOUT,
)

ORIGIN_HOST = b"pgw.python.test"
ORIGIN_REALM = b"python.test"
SESSION = "pgw.python.test;1;42"


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the server closed the connection")
        data += chunk
    return data


class Peer:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.next_id = 1000

    def ask(self, request):
        self.next_id += 1
        request.header.hop_by_hop_identifier = self.next_id
        request.header.end_to_end_identifier = self.next_id + 50000
        self.sock.sendall(request.as_bytes())
        header = read_exactly(self.sock, 20)
        length = int.from_bytes(header[1:4], "big")
        answer = Message.from_bytes(header + read_exactly(self.sock, length - 20))
        ids = (answer.header.hop_by_hop_identifier, answer.header.end_to_end_identifier)
        assert ids == (self.next_id, self.next_id + 50000), f"answer ids {ids}"
        return answer

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True


def ccr(request_type, number):
    m = CreditControlRequest()
    # python-diameter leaves the header's application at 0; Gy is application 4.
    m.header.application_id = 4
    m.session_id = SESSION
    m.origin_host = ORIGIN_HOST
    m.origin_realm = ORIGIN_REALM
    m.destination_realm = b"sim.test"
    m.auth_application_id = 4
    m.service_context_id = "32251@3gpp.org"
    m.cc_request_type = request_type
    m.cc_request_number = number
    m.event_timestamp = datetime.datetime(2026, 11, 25, 3, 0, 0, tzinfo=datetime.timezone.utc)
    m.subscription_id = [
        SubscriptionId(E_SUBSCRIPTION_ID_TYPE_END_USER_IMSI, "440101234567890"),
        SubscriptionId(E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "818010000400"),
    ]
    # What a PGW adds about the bearer, in 3GPP's vendor-specific AVPs.
    m.service_information = ServiceInformation(
        ps_information=PsInformation(
            tgpp_charging_id=b"\x00\x00\x00\x2a",
            tgpp_pdp_type=0,
            sgsn_address=["192.0.2.10"],
            called_station_id="internet",
            tgpp_rat_type=b"\x06",
        )
    )
    return m


def mscc(requested_octets=None, used_octets=None):
    service = MultipleServicesCreditControl(rating_group=10, service_identifier=[1])
    if requested_octets is not None:
        service.requested_service_unit = GrantedServiceUnit(cc_total_octets=requested_octets)
    if used_octets is not None:
        # Reported at a quota threshold (Reporting-Reason 0, a 3GPP AVP).
        service.used_service_unit = [
            UsedServiceUnit(cc_total_octets=used_octets, reporting_reason=0)
        ]
    return service


def grants(cca):
    out = []
    for service in cca.multiple_services_credit_control or []:
        gsu = service.granted_service_unit
        out.append(
            {
                "rating_group": service.rating_group,
                "result_code": service.result_code,
                "granted_octets": gsu.cc_total_octets if gsu else None,
                "validity_time": service.validity_time,
            }
        )
    return out


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    peer = Peer(host, port)
    seen = {}

    cer = CapabilitiesExchangeRequest()
    cer.origin_host = ORIGIN_HOST
    cer.origin_realm = ORIGIN_REALM
    cer.host_ip_address = ["127.0.0.1"]
    cer.vendor_id = 0
    cer.product_name = "python-diameter"
    cer.auth_application_id = [4]
    cea = peer.ask(cer)
    seen["cea"] = {
        "result_code": cea.result_code,
        "origin_host": cea.origin_host.decode(),
        "auth_application_id": list(cea.auth_application_id),
    }

    dwr = DeviceWatchdogRequest()
    dwr.origin_host = ORIGIN_HOST
    dwr.origin_realm = ORIGIN_REALM
    seen["dwa"] = peer.ask(dwr).result_code

    initial = ccr(E_CC_REQUEST_TYPE_INITIAL_REQUEST, 0)
    initial.multiple_services_credit_control = [mscc(requested_octets=1_000_000)]
    cca = peer.ask(initial)
    seen["cca_initial"] = {"result_code": cca.result_code, "services": grants(cca)}

    update = ccr(E_CC_REQUEST_TYPE_UPDATE_REQUEST, 1)
    update.multiple_services_credit_control = [
        mscc(requested_octets=2_000_000, used_octets=900_000)
    ]
    cca = peer.ask(update)
    seen["cca_update"] = {"result_code": cca.result_code, "services": grants(cca)}

    terminate = ccr(E_CC_REQUEST_TYPE_TERMINATION_REQUEST, 2)
    terminate.termination_cause = E_TERMINATION_CAUSE_DIAMETER_LOGOUT
    terminate.multiple_services_credit_control = [mscc(used_octets=123_456)]
    cca = peer.ask(terminate)
    seen["cca_terminate"] = {
        "result_code": cca.result_code,
        "cc_request_type": cca.cc_request_type,
        "cc_request_number": cca.cc_request_number,
    }

    dpr = DisconnectPeerRequest()
    dpr.origin_host = ORIGIN_HOST
    dpr.origin_realm = ORIGIN_REALM
    dpr.disconnect_cause = E_DISCONNECT_CAUSE_DO_NOT_WANT_TO_TALK_TO_YOU
    seen["dpa"] = peer.ask(dpr).result_code
    seen["closed_after_dpa"] = peer.closed()

    print(json.dumps(seen))


if __name__ == "__main__":
    main()

"""Added latency where the kernel has no ``netem``: every packet a host sends to the others waits ``DELAY`` ms.

An iptables rule in the host's namespace (``OUTPUT -o eth0 -j NFQUEUE --queue-bypass``) hands each outgoing packet
to this process through the kernel's netfilter queue (nfnetlink_queue, spoken here over a raw netlink socket:
no library); it accepts each packet ``DELAY`` ms after it arrived, in arrival order. ``--queue-bypass``: while no
process listens, packets pass undelayed. Loopback is not delayed. The harness starts one per host
(``harness.latency``) and stops it by its record; it also ends by itself after ``LIFETIME`` seconds.

    python delay.py DELAY_MS LIFETIME_S
"""

from __future__ import annotations

import collections
import os
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFNL_SUBSYS_QUEUE = 3
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_ACCEPT = 1
NLM_F_REQUEST = 1
QUEUE = 0


def _attribute(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(kind: int, attributes: bytes, family: int = socket.AF_UNSPEC) -> bytes:
    body = struct.pack("=BBH", family, 0, socket.htons(QUEUE)) + attributes  # nfgenmsg: family, version, queue
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, NLM_F_REQUEST, 0, 0) + body


def _packet_ids(data: bytes) -> list[int]:
    """The packet ids of the queue's messages in one datagram."""
    ids, offset = [], 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            position = offset + 20  # nlmsghdr, nfgenmsg
            while position + 4 <= offset + length:
                size, attribute = struct.unpack_from("=HH", data, position)
                if attribute & 0x3FFF == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, position + 4)[0])
                position += max(4, size + (-size % 4))
        offset += length + (-length % 4)
    return ids


def main(delay_ms: float, lifetime: float) -> None:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2**20)
    bind = struct.pack("=BxH", NFQNL_CFG_CMD_BIND, 0)
    sock.send(_message(NFQNL_MSG_CONFIG, _attribute(NFQA_CFG_CMD, bind)))
    sock.send(_message(NFQNL_MSG_CONFIG, _attribute(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))))
    waiting: collections.deque[tuple[float, int]] = collections.deque()
    delay, end = delay_ms / 1000, time.monotonic() + lifetime
    print(f"delaying every packet out of eth0 by {delay_ms:g} ms (pid {os.getpid()})", flush=True)
    while time.monotonic() < end:
        now = time.monotonic()
        while waiting and waiting[0][0] <= now:
            _, packet = waiting.popleft()
            sock.send(_message(NFQNL_MSG_VERDICT, _attribute(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet))))
        timeout = max(0.0, waiting[0][0] - now) if waiting else 0.5
        if select.select([sock], [], [], timeout)[0]:
            arrived = time.monotonic()
            waiting.extend((arrived + delay, packet) for packet in _packet_ids(sock.recv(2**16)))


if __name__ == "__main__":
    main(float(sys.argv[1]), float(sys.argv[2]))

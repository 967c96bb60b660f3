"""A stand-in Pactus node: its three APIs on loopback, on the real protocol definitions.

gRPC serves the Blockchain, Network and Wallet services with pactus-grpc's servicer
classes; JSON-RPC answers `pactus.blockchain.get_blockchain_info` and does CORS the way
Pactus does (only for its configured origins); the HTTP-API answers under its base path.
Every call is recorded, so a test can tell what reached the node. With `grpc_basic_auth`
set (config.toml's grpc.basic_auth, `user:<bcrypt hash>`), gRPC calls without the matching
credential are refused UNAUTHENTICATED, as Pactus refuses them.
"""

from __future__ import annotations

import base64
import json
import threading
import warnings
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from pactus_grpc import (blockchain_pb2, blockchain_pb2_grpc, network_pb2, network_pb2_grpc, wallet_pb2,
                         wallet_pb2_grpc)

HEIGHT = 4_242_424
MONIKER = "pactus-secure stand-in"


@dataclass
class PactusStandIn:
    grpc_listen: str = "127.0.0.1:50051"
    jsonrpc_port: int = 8545
    http_port: int = 8080
    http_base_path: str = "/http"
    origins: tuple[str, ...] = ()
    calls: list[str] = field(default_factory=list)
    connections: int = 0  # TCP connections JSON-RPC accepted: a proxy that keeps them alive opens few
    grpc_basic_auth: str | None = None

    def start(self) -> None:
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=[_BasicAuth(self)])
        blockchain_pb2_grpc.add_BlockchainServicer_to_server(_Blockchain(self.calls), self._grpc)
        network_pb2_grpc.add_NetworkServicer_to_server(_Network(self.calls), self._grpc)
        wallet_pb2_grpc.add_WalletServicer_to_server(_Wallet(self.calls), self._grpc)
        self._grpc.add_insecure_port(self.grpc_listen)
        self._grpc.start()
        self._http_servers = [
            _Server(("127.0.0.1", self.jsonrpc_port), _jsonrpc_handler(self)),
            _Server(("127.0.0.1", self.http_port), _http_api_handler(self)),
        ]
        for server in self._http_servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._grpc.stop(grace=None)
        for server in self._http_servers:
            server.shutdown()
            server.server_close()


class _BasicAuth(grpc.ServerInterceptor):
    def __init__(self, node: PactusStandIn):
        self.node = node

    def intercept_service(self, continuation, handler_call_details):
        if self.node.grpc_basic_auth is None:
            return continuation(handler_call_details)
        header = dict(handler_call_details.invocation_metadata).get("authorization", "")
        if _credential_matches(header, self.node.grpc_basic_auth):
            return continuation(handler_call_details)
        self.node.calls.append(f"grpc:refused {handler_call_details.method}")

        def refuse(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid basic auth credential")
        return grpc.unary_unary_rpc_method_handler(refuse)


def _credential_matches(header: str, htpasswd_line: str) -> bool:
    """`Basic base64(user:password)` against `user:<bcrypt hash>`, with the C library's crypt(3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # bcrypt through libxcrypt, as Nginx checks it
    if not header.startswith("Basic "):
        return False
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    expected_user, _, hashed = htpasswd_line.partition(":")
    return user == expected_user and crypt.crypt(password, hashed) == hashed


class _Blockchain(blockchain_pb2_grpc.BlockchainServicer):
    def __init__(self, calls):
        self.calls = calls

    def GetBlockchainInfo(self, request, context):
        self.calls.append("grpc:Blockchain/GetBlockchainInfo")
        return blockchain_pb2.GetBlockchainInfoResponse(last_block_height=HEIGHT, total_validators=7)


class _Network(network_pb2_grpc.NetworkServicer):
    def __init__(self, calls):
        self.calls = calls

    def GetNodeInfo(self, request, context):
        self.calls.append("grpc:Network/GetNodeInfo")
        return network_pb2.GetNodeInfoResponse(moniker=MONIKER)


class _Wallet(wallet_pb2_grpc.WalletServicer):
    def __init__(self, calls):
        self.calls = calls

    def GetTotalBalance(self, request, context):
        self.calls.append("grpc:Wallet/GetTotalBalance")
        return wallet_pb2.GetTotalBalanceResponse(wallet_name=request.wallet_name, total_balance=1)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many clients at once (bench/data_path.py) wait, not fail
    daemon_threads = True


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not a delayed ACK apart

    def log_message(self, *args):  # keep the test output for the tests
        pass

    def send_json(self, status: int, body: dict, extra_headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _jsonrpc_handler(node: PactusStandIn):
    class JsonRpc(_QuietHandler):
        def setup(self):
            node.connections += 1
            super().setup()

        def cors(self) -> dict[str, str]:
            origin = self.headers.get("Origin")
            if origin in node.origins:
                return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
            return {}

        def do_OPTIONS(self):
            node.calls.append(f"jsonrpc:OPTIONS {self.path}")
            self.send_response(204)
            for name, value in self.cors().items():
                self.send_header(name, value)
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            node.calls.append(f"jsonrpc:{request.get('method')} {self.path}")
            if request.get("method") == "pactus.blockchain.get_blockchain_info":
                reply = {"jsonrpc": "2.0", "id": request.get("id"),
                         "result": {"last_block_height": HEIGHT, "total_validators": 7}}
            else:
                reply = {"jsonrpc": "2.0", "id": request.get("id"),
                         "error": {"code": -32601, "message": "Method not found"}}
            self.send_json(200, reply, self.cors())

    return JsonRpc


def _http_api_handler(node: PactusStandIn):
    class HttpApi(_QuietHandler):
        def do_GET(self):
            node.calls.append(f"http:GET {self.path}")
            if self.path.startswith(node.http_base_path + "/"):
                self.send_json(200, {"path": self.path, "last_block_height": HEIGHT})
            else:
                self.send_json(404, {"error": "not under the base path"})

    return HttpApi

"""`dwh serve` and `dwh api-client create|list|revoke`.

`register(sub)` adds the commands to the `dwh` parser (dwh/cli.py). They connect to the
warehouse `dwh` connects to (DWH_DATABASE_URL, or the embedded server).
"""

from __future__ import annotations

import argparse
import sys

from warehouse.database import connect, database_url


def _fail(message: str, code: int = 2) -> int:
    print(f"dwh: error: {message}", file=sys.stderr, flush=True)
    return code


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    print(f"serving the analytics API on http://{args.host}:{args.port} (docs: /docs)", flush=True)
    serve(database_url(), args.host, args.port)
    return 0


def cmd_api_client(args: argparse.Namespace) -> int:
    from api.clients import ClientError, create_client, list_clients, revoke_client

    try:
        with connect() as conn:
            if args.action == "create":
                brands = None if args.all_brands else args.brands
                made = create_client(conn, args.name, brands)
                scope = "all brands" if brands is None else ", ".join(made.client.brands or ())
                print(f"client {made.client.name} may read {scope}")
                print(f"client_id: {made.client.client_id}")
                print(f"client_secret: {made.secret}")
                print("the secret is shown once: it is stored hashed")
            elif args.action == "list":
                for client in list_clients(conn):
                    scope = "all brands" if client.brands is None else ",".join(client.brands)
                    created = f"{client.created_at:%Y-%m-%d %H:%M}" if client.created_at else ""
                    print(f"{client.name}\t{client.client_id}\t{client.status}\t{scope}\t{created}")
            else:
                revoked = revoke_client(conn, args.name)
                print(f"client {revoked.name} ({revoked.client_id}) is revoked")
    except ClientError as exc:
        return _fail(str(exc))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="serve the analytics API (OpenAPI docs at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.set_defaults(func=cmd_serve)

    client = sub.add_parser("api-client", help="clients of the analytics API")
    actions = client.add_subparsers(dest="action", required=True, help="what to do")
    create = actions.add_parser("create", help="a new client; prints its id and secret once")
    create.add_argument("name", help="the client's name")
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--brand",
        dest="brands",
        action="extend",
        nargs="+",
        metavar="BRAND",
        help="a brand the client may read (--brand a b, or --brand a --brand b)",
    )
    scope.add_argument("--all-brands", action="store_true", help="every brand, as bi_reader")
    actions.add_parser("list", help="every client, its status and scope")
    revoke = actions.add_parser("revoke", help="revoke a client: its tokens stop working at once")
    revoke.add_argument("name", help="the client's name")
    client.set_defaults(func=cmd_api_client)

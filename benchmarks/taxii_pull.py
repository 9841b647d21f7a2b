"""TAXII 2.1 figures against a running ``biotracker serve``: what a partner pulls, in how many pages,
how long the first (building) and second (cached) pull take, and whether a sample validates.

    biotracker serve --port 8731 &
    python benchmarks/taxii_pull.py http://127.0.0.1:8731/taxii2/ "$(biotracker tokens issue nl.analyst)" \
        [--per-request 500] [--validate 200]
"""

from __future__ import annotations

import argparse
import collections
import time

import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Collection, Server, as_pages


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def pull(collection: Collection, per_request: int) -> tuple[list[dict], int, float]:
    started = time.perf_counter()
    pages = list(as_pages(collection.get_objects, per_request=per_request))
    return [o for p in pages for o in p.get("objects", [])], len(pages), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("discovery_url")
    parser.add_argument("token")
    parser.add_argument("--per-request", type=int, default=500)
    parser.add_argument("--validate", type=int, default=200, help="objects per collection to validate")
    args = parser.parse_args()
    server = Server(args.discovery_url, auth=Bearer(args.token))
    root = server.default
    print(f"server {server.title!r}, API roots {[r.url for r in server.api_roots]}, {len(root.collections)} collections")
    options = ValidationOptions(version="2.1")
    for col in root.collections:
        objects, pages, first = pull(col, args.per_request)
        _, _, second = pull(col, args.per_request)
        manifest = sum(len(p.get("objects", [])) for p in as_pages(col.get_manifest, per_request=1000))
        step = max(1, len(objects) // max(1, args.validate))
        sample = objects[::step][: args.validate]
        invalid = sum(not validate_instance(o, options).is_valid for o in sample)
        kinds = dict(collections.Counter(o["type"] for o in objects))
        print(f"{col.title} [{col.id}]: {len(objects)} objects in {pages} pages of {args.per_request}; "
              f"manifest {manifest}; first pull {first:.1f} s, cached {second:.1f} s; "
              f"{invalid} invalid of {len(sample)} validated; {kinds}")


if __name__ == "__main__":
    main()

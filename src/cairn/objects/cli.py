"""``cairn s3 ...`` (scrub, heal, rebalance, placement report) and ``cairn bench s3``."""

from __future__ import annotations

import json
import os
from typing import Any

import click


def register(cli_root: click.Group, bench_group: click.Group) -> None:
    @cli_root.group("s3")
    def s3() -> None:
        """S3-compatible object store: erasure-coded data on drives, metadata in cairn."""

    register_server(s3)

    @s3.command("scrub")
    @click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
                  help="the store's data directory")
    @click.option("--heal/--no-heal", default=True, help="rebuild what is found damaged")
    def scrub(data_dir: str, heal: bool) -> None:
        """Verify every shard's checksums; rebuild lost or corrupt shards."""
        from dataclasses import asdict

        from cairn.objects.healer import Healer
        from cairn.objects.store import ObjectStore

        with ObjectStore(data_dir) as store:
            click.echo(json.dumps(asdict(Healer(store).run(heal=heal)), indent=2))

    @s3.command("rebalance")
    @click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
                  help="the store's data directory")
    @click.option("--drives", default=None,
                  help="comma-separated drive directories, or a count under the data dir "
                       "(as for serve: the new drive set)")
    @click.option("--k", default=4, show_default=True)
    @click.option("--m", default=2, show_default=True)
    def rebalance(data_dir: str, drives: str | None, k: int, m: int) -> None:
        """Move shards to the drives placement chooses now (after drives were added),
        reporting shards and bytes moved. Run while the server is stopped."""
        from dataclasses import asdict

        from cairn.objects.rebalance import Rebalancer
        from cairn.objects.service import open_drives
        from cairn.objects.store import ObjectStore

        with ObjectStore(data_dir, open_drives(data_dir, drives, None, k + m), k=k,
                         m=m) as store:
            click.echo(json.dumps(asdict(Rebalancer(store).run()), indent=2))

    @s3.command("placement")
    @click.option("--drives", default=12, show_default=True)
    @click.option("--domains", default=0, help="failure domains (0: one per drive)")
    @click.option("--objects", default=20000, show_default=True)
    @click.option("--k", default=4, show_default=True)
    @click.option("--m", default=2, show_default=True)
    def placement(drives: int, domains: int, objects: int, k: int, m: int) -> None:
        """How much data moves when one drive is added (rendezvous hashing)."""
        from cairn.objects.placement import DriveSpec, movement

        def spec(i: int) -> DriveSpec:
            return DriveSpec(f"d{i}", f"h{i % domains}" if domains else f"d{i}")

        before = [spec(i) for i in range(drives)]
        after = [*before, spec(drives)]
        keys = [f"object-{i}".encode() for i in range(objects)]
        moved = movement(keys, before, after, k + m)
        click.echo(f"{drives} -> {drives + 1} drives, {k}+{m}: {moved:.2%} of shards move "
                   f"(ideal: the new drive's share {1 / (drives + 1):.2%})")

    @bench_group.command("s3")
    @click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None)
    @click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                  help="write bar charts (PNG)")
    @click.option("--ec-only", is_flag=True, help="only the erasure-coding backends")
    @click.option("--dir", "root", default=None, help="where to put the store (default: tmp)")
    @click.option("--no-peers", is_flag=True, help="skip the boto3 runs against servers")
    @click.option("--list-keys", default=100_000, show_default=True,
                  help="keys created for the LIST workload (0: skip)")
    @click.option("--multipart-mib", default=1024, show_default=True,
                  help="size of the multipart upload (0: skip)")
    @click.option("--part-mib", default=64, show_default=True, help="multipart part size")
    @click.option("--threads", default=4, show_default=True, help="parts in flight")
    @click.option("--peers", default="cairn,seaweedfs,moto", show_default=True,
                  help="servers to run the boto3 workloads against")
    def bench_s3(json_path: str | None, plot_path: str | None, ec_only: bool,
                 root: str | None, no_peers: bool, list_keys: int, multipart_mib: int,
                 part_mib: int, threads: int, peers: str) -> None:
        """Erasure coding, in-process PUT/GET vs raw disk, then boto3 against cairn, SeaweedFS
        and moto, with the issue's targets as PASS/MISS."""
        from cairn.objects.bench import MiB, bench_erasure, bench_peers, bench_store, targets

        result: dict[str, object] = {"cpus": os.cpu_count()}
        ec = bench_erasure()
        result["erasure"] = ec
        click.echo("erasure coding 4+2, 64 MiB in 4 MiB stripes (MB/s):")
        for row in ec:
            if "error" in row:
                click.echo(f"  {row['backend']:24} unavailable: {row['error']}")
            else:
                click.echo(f"  {row['backend']:24} encode {row['encode_mb_s']:8.0f}   "
                           f"decode (2 lost) {row['decode_mb_s']:8.0f}")
        if not ec_only:
            st = bench_store(root)
            result["store"] = st
            click.echo(f"raw disk sequential write: {st['raw_disk_write_mb_s']:.0f} MB/s")
            click.echo(f"in process: PUT 64 MiB {st['put_64mib_mb_s']:.0f} MB/s "
                       f"({st['put_vs_raw']:.0%} of raw disk), GET 64 MiB "
                       f"{st['get_64mib_mb_s']:.0f} MB/s ({st['get_vs_raw']:.0%})")
            click.echo(f"in process: PUT 4 KiB {st['put_4kib_ops_s']:.0f} ops/s   "
                       f"GET 4 KiB {st['get_4kib_ops_s']:.0f} ops/s")
        if not ec_only and not no_peers:
            http = bench_peers(root, tuple(p for p in peers.split(",") if p),
                               list_keys=list_keys, multipart=multipart_mib * MiB,
                               part=part_mib * MiB, threads=threads)
            result["http"] = http
            click.echo(f"boto3 over HTTP (64 MiB PUT/GET MB/s, 4 KiB ops/s, "
                       f"{multipart_mib} MiB multipart MB/s, LIST of {list_keys} keys: keys/s "
                       f"and delimiter ms):")
            for name, row in http.items():
                if isinstance(row, str):
                    click.echo(f"  {name:9} {row}")
                    continue
                click.echo(f"  {name:9} PUT {row['put_big_mb_s']:6.1f}  GET "
                           f"{row['get_big_mb_s']:6.1f}  PUT4K {row['put_4kib_ops_s']:5.0f}  "
                           f"GET4K {row['get_4kib_ops_s']:5.0f}  MPU "
                           f"{row.get('multipart_mb_s', 0):6.1f}  LIST "
                           f"{row.get('list_keys_per_s', 0):7.0f}  LIST/ "
                           f"{row.get('list_delimiter_ms', 0):6.1f} ms")
            rows = targets(result)
            result["targets"] = rows
            if rows:
                click.echo("targets (ratio > 1: cairn ahead):")
                for r in rows:
                    click.echo(f"  {r['target']:36} {r['ratio']:6.2f}x  (need "
                               f"{r['need']:.2f})  {'PASS' if r['pass'] else 'MISS'}")
        if json_path:
            with open(json_path, "w", encoding="utf-8") as fh:
                json.dump(result, fh, indent=2)
        if plot_path:
            from cairn.objects.bench import plot

            plot(result, plot_path)
            click.echo(f"plot written to {plot_path}")


credentials_opt = click.option(
    "--credentials", envvar="CAIRN_S3_CREDENTIALS_FILE", default=None,
    type=click.Path(dir_okay=False),
    help="root credentials file (JSON, mode 0600, outside the data folder; created when "
         "missing); CAIRN_S3_ACCESS_KEY/CAIRN_S3_SECRET_KEY take precedence")


def _key_store(data_dir: str, credentials: str | None) -> Any:
    """The stored keys, unsealed with the root secret (which is never in the data folder)."""
    from cairn.objects.keys import KeyStore
    from cairn.objects.service import root_credentials
    from cairn.storage import open_engine

    env = dict(os.environ)
    if not (env.get("CAIRN_S3_ACCESS_KEY") and env.get("CAIRN_S3_SECRET_KEY")) and \
            not credentials:
        raise click.UsageError("access keys are sealed with the root secret: set "
                               "CAIRN_S3_ACCESS_KEY/CAIRN_S3_SECRET_KEY or --credentials FILE")
    try:
        root, _ = root_credentials(env, credentials, data_dir)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    meta = open_engine("lsm", os.path.join(data_dir, "meta"))
    try:
        return meta, KeyStore(meta, root)
    except BaseException:
        meta.close()
        raise


def register_server(s3: click.Group) -> None:
    """``cairn s3 serve`` and ``cairn s3 keys``."""

    @s3.command("serve")
    @click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535),
                  help="0 picks a free port")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--data", "data_dir", default="./data/s3", show_default=True)
    @click.option("--drives", default=None,
                  help="comma-separated drive directories, or a count under the data dir")
    @click.option("--k", default=4, show_default=True, help="data shards per stripe")
    @click.option("--m", default=2, show_default=True, help="parity shards per stripe")
    @click.option("--domain", default="localhost", show_default=True,
                  help="virtual-host-style base domain (bucket.<domain>)")
    @click.option("--nodes", default=None,
                  help="comma-separated storage node URLs (cairn s3 node) used as the drives")
    @click.option("--node-token", envvar="CAIRN_S3_NODE_TOKEN", default=None,
                  help="shared secret of the storage nodes")
    @credentials_opt
    def serve(port: int, host: str, data_dir: str, drives: str | None, k: int, m: int,
              domain: str, nodes: str | None, node_token: str | None,
              credentials: str | None) -> None:
        """Serve the S3 API. Root credentials: CAIRN_S3_ACCESS_KEY / CAIRN_S3_SECRET_KEY, or
        a 0600 file named by --credentials (created when missing), never the data folder."""
        import uvicorn

        from cairn.objects.guard import listening_socket
        from cairn.objects.service import open_service

        # Bind first: a busy port fails before any endpoint or credentials are printed.
        try:
            sock = listening_socket(host, port)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}; pick "
                                       "another --port (0 picks a free one)") from None
        port = sock.getsockname()[1]
        try:
            svc = open_service(data_dir, drives=drives, nodes=nodes, k=k, m=m, domain=domain,
                               node_token=node_token, credentials=credentials)
        except ValueError as exc:
            sock.close()
            raise click.BadParameter(str(exc)) from None
        except BaseException:
            sock.close()
            raise
        if svc.secret_key is not None:
            kept = (f"kept in {credentials}" if credentials else
                    "not stored anywhere: pass --credentials FILE to keep them")
            click.echo(f"root credentials: access key {svc.access_key}  secret "
                       f"{svc.secret_key}  ({kept})")
        click.echo(f"S3 endpoint: http://{host}:{port}  ({svc.summary})")
        try:
            uvicorn.Server(uvicorn.Config(svc.app, log_level="warning", lifespan="off",
                                          http=svc.http_protocol, interface="asgi3")
                           ).run(sockets=[sock])
        finally:
            svc.close()
            sock.close()

    @s3.command("node")
    @click.option("--port", required=True, type=int)
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--dir", "root", required=True, type=click.Path(file_okay=False),
                  help="the directory this node stores shard blobs in")
    @click.option("--token", envvar="CAIRN_S3_NODE_TOKEN", default=None,
                  help="shared secret required from clients")
    def node(port: int, host: str, root: str, token: str | None) -> None:
        """A storage node: one drive served over HTTP to `cairn s3 serve --nodes`."""
        from cairn.objects.node import run_node

        run_node(root, host, port, token)

    @s3.group("keys")
    def keys_group() -> None:
        """Manage SigV4 access keys (stored in the store's metadata engine)."""

    data_opt = click.option("--data", "data_dir", default="./data/s3", show_default=True)

    @keys_group.command("create")
    @data_opt
    @credentials_opt
    @click.option("--access-key", default=None)
    @click.option("--secret-key", default=None)
    def keys_create(data_dir: str, credentials: str | None, access_key: str | None,
                    secret_key: str | None) -> None:
        meta, keys = _key_store(data_dir, credentials)
        with meta:
            try:
                key = keys.create(access_key, secret_key)
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
        click.echo(json.dumps({"access_key": key.access_key, "secret_key": key.secret_key}))

    @keys_group.command("list")
    @data_opt
    @credentials_opt
    def keys_list(data_dir: str, credentials: str | None) -> None:
        meta, keys = _key_store(data_dir, credentials)
        with meta:
            for key in keys.list():
                note = "" if key.secret_key else "  (sealed under another root secret)"
                click.echo(f"{key.access_key}  created {key.created:.0f}{note}")

    @keys_group.command("delete")
    @data_opt
    @credentials_opt
    @click.argument("access_key")
    def keys_delete(data_dir: str, credentials: str | None, access_key: str) -> None:
        meta, keys = _key_store(data_dir, credentials)
        with meta:
            if not keys.delete(access_key):
                raise click.ClickException(f"no access key {access_key}")

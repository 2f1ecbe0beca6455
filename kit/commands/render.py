"""`kit render`: every Kubernetes object the kit would apply, as YAML files, offline."""

from __future__ import annotations

import re
from pathlib import Path

import click

from kit.commands import file_option, load_config


@click.command()
@file_option
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the rendered YAML: one file per release plus platform.yaml.")
@click.option("--run-id", default=None,
              help="Fine-tune run to render (default: derived from the training inputs).")
@click.option("--images", "images_file", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Images lock: JSON {name: repository@sha256:...} (default: the deployment's "
                   "lock, .kit/<name>/images.json). Images with no digest render at their release "
                   "tags, marked unpinned, for review only.")
def render(config_file: Path, out_dir: Path, run_id: str | None, images_file: Path | None) -> None:
    """Render the platform objects and both Helm charts for kit.yaml.

    Uses a real Helm engine and needs no cluster or credentials: what it writes is what
    `kit up` registers with Pulumi, for review, diff or GitOps.
    """
    import yaml

    from kit.errors import KitError
    from kit.images import load_lock
    from kit.render import cluster_for, render_objects

    if run_id is not None and not re.match(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", run_id):
        raise KitError(f"--run-id: {run_id!r} is not a valid run id",
                       hint="lowercase letters, digits and dashes, at most 63 characters")
    from kit.images import unpinned
    from kit.render import needed_images

    cfg = load_config(config_file)
    images = load_lock(images_file) if images_file else None
    loose = unpinned(cfg.workdir, needed_images(cfg), images)
    releases = render_objects(cfg, cluster_for(cfg), run_id=run_id, images=images, review=bool(loose))
    if loose:
        click.echo(f"warning: no digest for {', '.join(loose)}: rendered at release tags and "
                   "annotated lima-kit.io/unpinned-images, for review only (`kit up` refuses "
                   "them; pin them with `kit images lock`)", err=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KitError(f"{out_dir}: cannot create the folder: {exc.strerror}") from None
    from stacks.clouds import cloud_support

    if not cloud_support(cfg.target).creates_cluster:   # an existing cluster: what to grant
        from kit.cluster.rbac import rbac_objects

        releases = {**releases, "operator-rbac": rbac_objects(cfg.kubernetes.namespace, cfg.name)}
    for name, objects in releases.items():
        path = out_dir / f"{name}.yaml"
        who = "a cluster admin applies these once" if name == "operator-rbac" else "`kit up` applies these"
        header = f"# {name}: rendered by `kit render` from {config_file}; {who}.\n"
        path.write_text(header + yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True),
                        encoding="utf-8")
        click.echo(f"{path}  {len(objects)} objects")

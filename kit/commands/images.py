"""images: build the kit's own images, push them to the deployment's registry, and pin every
image the charts run to a digest (the images lock)."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json

KIT_IMAGES = ("kit", "trainer")


def _names(names: tuple[str, ...]) -> list[str]:
    from kit.errors import KitError

    unknown = [n for n in names if n not in KIT_IMAGES]
    if unknown:
        raise KitError(f"unknown image(s): {', '.join(unknown)}",
                       hint=f"the kit builds {', '.join(KIT_IMAGES)}; upstream images come "
                            "through the registry mirror")
    return list(names) or list(KIT_IMAGES)


@click.group()
def images() -> None:
    """Container images: build and push the kit's own, pin all of them by digest."""


@images.command("build")
@file_option
@click.argument("names", nargs=-1)
@click.option("--cpu", is_flag=True, help="The trainer's CPU flavour (tests, CPU nodes) instead of CUDA.")
@click.option("--base", default=None,
              help="Base image (pinned or local); default: the release base, pinned by digest now.")
@click.option("--torch", "torch_spec", default="torch", show_default=True,
              help="torch requirement for the CPU flavour's wheelhouse (e.g. torch==2.13.0).")
@click.option("--index-url", default=None,
              help="Package index for the CUDA flavour's build (your mirror; default PyPI).")
@click.option("--engine", type=click.Choice(["docker", "podman", "buildah"]), default=None,
              help="Container engine (default: the first of docker, podman, buildah on PATH).")
@click.option("--arch", type=click.Choice(["amd64", "arm64"]), default=None,
              help="Target architecture (default: this machine's).")
@click.option("--remote", is_flag=True,
              help="Build with the cloud's builder in your account (AWS: CodeBuild in the private "
                   "VPC), push to the stack's registry and lock the digests; reads -f kit.yaml.")
def build(config_file: Path, names: tuple[str, ...], cpu: bool, base: str | None,
          torch_spec: str, index_url: str | None, engine: str | None, arch: str | None,
          remote: bool) -> None:
    """Build the kit's images (kit, trainer) for this version with a local container engine,
    or with --remote in the deployment's own account."""
    from kit.images.build import BuildRequest, host_arch
    from kit.images.build import build as build_image

    requests = [BuildRequest(name=name, flavour="cpu" if cpu and name == "trainer" else None,
                             base=base, torch=torch_spec, index_url=index_url,
                             arch=arch or host_arch()) for name in _names(names)]
    cfg = load_config(config_file) if remote or config_file.exists() else None
    if cfg is not None:
        from kit.images.build import locked_base

        for request in requests:
            request.base = request.base or locked_base(cfg.workdir, request.name, request.flavour)
    if remote:
        from kit.images.push import record
        from kit.images.remote import builder, remote_build
        from kit.render import cluster_for

        builder(cfg)                   # one line if there is none, before anything is made
        cluster = cluster_for(cfg)
        pushed = [remote_build(cfg, cluster, request, log=click.echo) for request in requests]
        record(cfg.workdir, pushed)
        for p in pushed:
            click.echo(f"built and pushed {p.tag} -> {p.reference}")
        click.echo(f"wrote {cfg.workdir.images_lock}")
        return
    for request in requests:
        built = build_image(request, engine=engine, log=click.echo)
        click.echo(f"built {built.tag} ({built.engine}; base {built.base})")


@images.command("push")
@file_option
@output_option
@click.argument("names", nargs=-1)
@click.option("--registry", default=None,
              help="Registry prefix to push to (default: the deployment's private registry).")
@click.option("--cpu", is_flag=True, help="Push the trainer's CPU flavour.")
@click.option("--engine", type=click.Choice(["docker", "podman", "buildah"]), default=None)
def push(config_file: Path, output: str, names: tuple[str, ...], registry: str | None, cpu: bool,
         engine: str | None) -> None:
    """Push built images to the private registry and record their digests in the lock."""
    from kit.errors import KitError
    from kit.images.push import push_images, record
    from kit.targets import support_for

    cfg = load_config(config_file)
    support = support_for(cfg.target)
    if registry is None and support.on_cluster:
        from kit.render import cluster_for

        registry = cluster_for(cfg).registry_prefix or None
    if not registry:
        raise KitError(f"--registry: required for target {cfg.target} (the kit has no registry "
                       "of its own there)", hint="kit images push --registry HOST/PREFIX")
    credentials = support.registry_login(cfg, registry)
    pushed = push_images(_names(names), registry, flavours={"trainer": "cpu"} if cpu else None,
                         engine=engine, credentials=credentials)
    refs = record(cfg.workdir, pushed)
    if output == "json":
        print_json({p.name: refs[p.name] for p in pushed})
        return
    for p in pushed:
        click.echo(f"{p.name:8} {p.reference}")
    click.echo(f"wrote {cfg.workdir.images_lock}")


@images.command("lock")
@file_option
@output_option
@click.argument("names", nargs=-1)
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Install a reviewed lock file instead of asking the registries.")
@click.option("--registry", default=None,
              help="Resolve the kit's own images (kit, trainer) where `kit images push` put them.")
@click.option("--cpu", is_flag=True, help="With --registry: the trainer's CPU flavour.")
def lock(config_file: Path, output: str, names: tuple[str, ...], source: Path | None,
         registry: str | None, cpu: bool) -> None:
    """Resolve each image's release to its digest; write .kit/<name>/images.json."""
    from kit.images import import_lock, lock_images
    from kit.images.build import local_tag

    cfg = load_config(config_file)
    tags = {"trainer": local_tag("trainer", "cpu").rsplit(":", 1)[1]} if cpu else None
    refs = import_lock(cfg.workdir, source) if source else lock_images(
        cfg.workdir, names=list(names) or None, registry=registry, tags=tags)
    if output == "json":
        print_json(refs)
        return
    for name, ref in refs.items():
        click.echo(f"{name:8} {ref}")
    click.echo(f"wrote {cfg.workdir.images_lock}")

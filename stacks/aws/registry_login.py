"""A short-lived login to the stack's ECR registry for `kit images push` (and the mirror phase
of `kit up`): ECR's authorization token, valid 12 hours, handed to the container engine on
stdin. Registries that are not ECR get no credentials from here."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig

ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(/|$)")


def credentials(cfg: "KitConfig", registry: str) -> tuple[str, str] | None:
    return login(registry)


def login(registry: str) -> tuple[str, str] | None:
    """(username, password) for the ECR registry `registry` names; None for any other."""
    match = ECR_HOST.match(registry)
    if match is None:
        return None
    boto3 = require("boto3", "aws")
    from botocore.exceptions import BotoCoreError, ClientError

    account, region = match.group(1), match.group(2)
    try:
        data = boto3.client("ecr", region_name=region).get_authorization_token(
            registryIds=[account])["authorizationData"][0]
    except (BotoCoreError, ClientError) as exc:
        raise KitError(f"ecr {account} in {region}: no login token: {' '.join(str(exc).split())[:160]}",
                       hint="check the credentials (`kit doctor`); pushing needs "
                            "ecr:GetAuthorizationToken and ecr:*Layer* on the kit's repositories") from None
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return username, password

"""The EKS cluster's bearer token for `kit cluster-token aws CLUSTER REGION`, the kubeconfig's
exec plugin: no AWS CLI (`aws eks get-token`) or aws-iam-authenticator binary needed.

An EKS token is a presigned STS GetCallerIdentity URL whose signature covers the header
`x-k8s-aws-id: <cluster name>`, base64url-encoded without padding and prefixed `k8s-aws-v1.`;
the API server's authenticator calls that URL to learn who signed it (aws-iam-authenticator,
README "API Authorization from Outside a Cluster" and pkg/token/token.go; the AWS CLI's
awscli/customizations/eks/get_token.py does the same, read 2026-12-07). The URL is valid 60
seconds from signing for the authenticator, and the CLI reports the token as expiring in 14
minutes (its TOKEN_EXPIRATION_MINS), after which kubectl asks again.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

from kit.errors import KitError, require

PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
URL_EXPIRES_S = 60
TOKEN_LIFETIME = timedelta(minutes=14)


def presigned_url(session, cluster: str, region: str) -> str:
    """The GetCallerIdentity URL, signed (with `session`'s credentials) over the cluster header."""
    client = session.create_client("sts", region_name=region)

    def _header(request, **_):
        request.headers[CLUSTER_HEADER] = cluster

    client.meta.events.register("before-sign.sts.GetCallerIdentity", _header)
    return client.generate_presigned_url("get_caller_identity", Params={},
                                         ExpiresIn=URL_EXPIRES_S, HttpMethod="GET")


def encode(url: str) -> str:
    return PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def token(cluster: str = "", region: str = "") -> tuple[str, datetime]:
    """(bearer token, its expiry in UTC) for `cluster` in `region`, from the default
    credential chain (environment, AWS_PROFILE / SSO, instance or pod role)."""
    if not cluster or not region:
        raise KitError("kit cluster-token aws: needs the cluster name and region",
                       hint="kit cluster-token aws CLUSTER REGION (as the kit's kubeconfig runs it)")
    require("botocore", "aws")
    import botocore.session
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    session = botocore.session.get_session()
    try:
        if session.get_credentials() is None:
            raise NoCredentialsError()
        url = presigned_url(session, cluster, region)
    except NoCredentialsError:
        raise KitError("aws: no credentials for the cluster's token",
                       hint="`aws sso login` / `aws configure`, or set AWS_PROFILE") from None
    except BotoCoreError as exc:
        raise KitError(f"aws: no token for cluster {cluster}: {' '.join(str(exc).split())[:160]}",
                       hint="refresh the credentials (`aws sso login`), or check AWS_PROFILE") from None
    return encode(url), datetime.now(timezone.utc) + TOKEN_LIFETIME

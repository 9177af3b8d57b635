"""The operator's choices for training Jobs (``TRAINYARD_TRAINER_KUBERNETES__*``), and the template
the manifest builders take."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from trainer.executors.kubernetes.manifests import DataVolume, JobTemplate, Resources, SecretEnv, Toleration


class SecretEnvSetting(BaseModel):
    name: str = Field(description="environment variable in the training container")
    secret: str = Field(description="Secret in the Job's namespace")
    key: str = Field(description="key in that Secret")


class TolerationSetting(BaseModel):
    key: str
    operator: str = "Exists"
    value: str | None = None
    effect: str | None = None


class KubernetesSettings(BaseModel):
    namespace: str = "trainyard"
    image: str = "trainyard/trainer:latest"
    image_pull_policy: str = "IfNotPresent"
    command: list[str] = Field(["python", "-m", "trainer.training"])
    service_account: str | None = None
    kubeconfig: Path | None = Field(
        None, description="outside a cluster; inside one the pod's account is used"
    )
    context: str | None = None
    max_jobs: int = Field(8, ge=1, le=1000, description="Jobs of this trainer instance running at once")
    cpu_request: str = "1"
    memory_request: str = "4Gi"
    cpu_limit: str | None = None
    memory_limit: str | None = "8Gi"
    gpus: int = Field(0, ge=0, le=16, description="nvidia.com/gpu per training pod")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[TolerationSetting] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="extra plain environment variables")
    secret_env: list[SecretEnvSetting] = Field(
        default_factory=list,
        description="extra variables from Secrets; none by default: a training pod holds no store "
        "credentials (it reaches objects through the trainer with its run token)",
    )
    ttl_after_finished_s: int = Field(3600, ge=0)
    data_claim: str | None = Field(
        None,
        description="PersistentVolumeClaim of prepared ImageNet-style data, mounted read-only into imagenet "
        "runs' pods at data_mount_path",
    )
    data_mount_path: str = Field(
        "/data/imagenet",
        description="where that claim is mounted: set TRAINYARD_TRAINER_IMAGENET_DATA_ROOT to it",
    )

    def job_template(self, *, base_env: dict[str, str], active_deadline_s: int) -> JobTemplate:
        return JobTemplate(
            namespace=self.namespace,
            image=self.image,
            command=tuple(self.command),
            image_pull_policy=self.image_pull_policy,
            service_account=self.service_account,
            env={**base_env, **self.env},
            secret_env=tuple(SecretEnv(s.name, s.secret, s.key) for s in self.secret_env),
            resources=Resources(
                cpu_request=self.cpu_request,
                memory_request=self.memory_request,
                cpu_limit=self.cpu_limit,
                memory_limit=self.memory_limit,
                gpus=self.gpus,
            ),
            node_selector=dict(self.node_selector),
            tolerations=tuple(Toleration(t.key, t.operator, t.value, t.effect) for t in self.tolerations),
            active_deadline_s=active_deadline_s,
            ttl_after_finished_s=self.ttl_after_finished_s,
            data_volume=DataVolume(self.data_claim, self.data_mount_path) if self.data_claim else None,
        )

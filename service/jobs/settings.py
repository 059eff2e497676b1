"""The jobs section of the settings: where the worker runs, its pace, retries and retention."""

from pydantic import Field

from service.database.settings import DatabaseSettings


class JobsSettings(DatabaseSettings):
    jobs_embedded: bool = Field(
        default=True, description="run the job worker inside the service (false: `make worker`)"
    )
    jobs_poll_seconds: float = Field(default=1.0, gt=0, description="idle worker poll interval")
    jobs_batch_size: int = Field(default=20, ge=1, description="jobs claimed per round")
    jobs_max_attempts: int = Field(default=5, ge=1, description="then the job is dead-lettered")
    jobs_backoff_seconds: float = Field(
        default=1.0, gt=0, description="first retry delay, doubled per attempt"
    )
    jobs_backoff_max_seconds: float = Field(default=300.0, gt=0)
    jobs_lease_seconds: float = Field(
        default=2.0,
        gt=0,
        description="a claimed job's lease, renewed while its worker lives; a dead worker's job"
        " runs again this long after its last renewal",
    )
    jobs_retention_seconds: int = Field(
        default=2 * 24 * 3600, ge=24 * 3600, description="done events kept (realtime replay)"
    )
    jobs_maintenance_seconds: float = Field(
        default=300.0, gt=0, description="interval of the periodic jobs (purges)"
    )

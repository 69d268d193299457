"""A grid import as a background job (rq; inline in the embedded default, or when Redis is
unreachable) that reports its progress, as the KPI exports do: the uploaded GeoJSON is kept
under ``<data_dir>/grid-imports`` beside a status file the job rewrites as it goes (queued,
running with ``done`` of ``total`` features, then done with the result or failed with the
error). The job writes all or nothing, like ``POST /api/v1/grids/import``."""
from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path

from geo.io import GeoFormatError, read_geojson_obj
from grid.grids import service
from wangge.config import current_settings
from wangge.errors import ApiError, validation_error
from wangge.extensions import db
from wangge.i18n import field_message, t
from wangge.jobs import enqueue, with_app
from wangge.timeutil import utcnow

log = logging.getLogger(__name__)
READ_OPTIONS = ("code_field", "name_field", "level_field", "parent_field")


class ImportJob:
    """One import's folder entry: ``<id>.json`` (its status) and ``<id>.geojson`` (the file)."""

    def __init__(self, job_id: str):
        if not (job_id.isascii() and job_id.isalnum() and len(job_id) <= 64):
            raise FileNotFoundError(job_id)
        self.id = job_id
        folder = Path(current_settings().data_dir).resolve() / "grid-imports"
        folder.mkdir(parents=True, exist_ok=True)
        self.status_path = folder / f"{job_id}.json"
        self.file_path = folder / f"{job_id}.geojson"

    def status(self) -> dict:
        return json.loads(self.status_path.read_text(encoding="utf-8"))

    def update(self, **changes) -> dict:
        """Rewrite the status file whole (a reader never sees half of it)."""
        current = self.status() if self.status_path.exists() else {}
        current.update(changes, updated_at=utcnow().isoformat())
        partial = self.status_path.with_name(self.status_path.name + ".part")
        partial.write_text(json.dumps(current, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, self.status_path)
        return current


def features_of(text: str, options: dict) -> list:
    """The file's features (400 ``invalid_file`` when it is not a GeoJSON FeatureCollection)."""
    try:
        doc = json.loads(text or "null")
        return read_geojson_obj(doc, **{k: options[k] for k in READ_OPTIONS},
                                default_level=options.get("level"), default_parent=options.get("parent"))
    except (ValueError, GeoFormatError) as exc:
        raise ApiError("invalid_file", status=400, detail=str(exc)) from None


def start_import(*, owner_id: int, text: str, options: dict, filename: str = "") -> dict:
    """Check the file can be read, keep it, queue the job; the status as it is now."""
    total = len(features_of(text, options))
    if not total:
        raise validation_error({"features": ["the file has no features"]})
    job = ImportJob(uuid.uuid4().hex)
    job.file_path.write_text(text, encoding="utf-8")
    job.update(id=job.id, owner_id=owner_id, options=options, filename=filename[:200] or None,
               state="queued", step=None, done=0, total=total, result=None, error=None)
    try:
        enqueue(run_grid_import, job.id, job_id=f"grid-import-{job.id}")
    except Exception as exc:  # Redis unreachable: do the work now rather than lose the upload
        log.warning("grid import %s could not be queued (%s); running it in the request", job.id, exc)
        run_grid_import(job.id)
    return job.status()


@with_app
def run_grid_import(job_id: str) -> None:
    job = ImportJob(job_id)
    status = job.status()
    if status["state"] in ("done", "failed"):
        return  # a re-delivered job: it has run
    options = status["options"]
    job.update(state="running", step="validating", done=0)
    written = 0

    def progress(count: int) -> None:
        nonlocal written
        written += count
        job.update(step="writing", done=written)

    try:
        features = features_of(job.file_path.read_text(encoding="utf-8"), options)
        result = service.import_features(db.session, features, crs=options["crs"], fix=options["fix"],
                                         skip_invalid=options["skip_invalid"],
                                         source=status.get("filename") or "console", progress=progress)
        db.session.commit()
    except ApiError as err:
        db.session.rollback()
        job.update(state="failed", step=None, error={"status": err.status, "code": err.code,
                                                     "params": _plain(err.params), "fields": err.fields,
                                                     "details": err.details})
        return
    except Exception as exc:
        db.session.rollback()
        log.exception("grid import %s failed", job_id)
        job.update(state="failed", step=None, error={"status": 500, "code": "internal_error", "params": {},
                                                     "detail": str(exc)})
        raise
    finally:
        job.file_path.unlink(missing_ok=True)
    job.update(state="done", step=None, done=status["total"], result=result.to_dict())


def _plain(params: dict) -> dict:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in params.items()}


def read_status(job_id: str, owner_id: int) -> dict | None:
    """The status of an import started by ``owner_id`` (None: no such import of theirs)."""
    try:
        status = ImportJob(job_id).status()
    except (FileNotFoundError, ValueError):
        return None
    return status if status.get("owner_id") == owner_id else None


def status_view(status: dict) -> dict:
    """What the API answers: progress as a fraction, the error in the reader's language."""
    out = {k: status.get(k) for k in ("id", "state", "step", "done", "total", "filename", "result")}
    out["progress"] = round(status["done"] / status["total"], 3) if status.get("total") else None
    error = status.get("error")
    if error:
        details = error.get("details")
        if isinstance(details, list):  # per feature: the reason in the reader's language
            details = [{**d, "reason_text": t(d["reason"])} if isinstance(d, dict) and d.get("reason") else d
                       for d in details]
        out["error"] = {"status": error["status"], "code": error["code"],
                        "message": t(error["code"], **(error.get("params") or {})),
                        "fields": _localised(error.get("fields")), "details": details}
    else:
        out["error"] = None
    return out


def _localised(fields: dict | None) -> dict | None:
    if not fields:
        return None
    return {name: [field_message(m) if isinstance(m, str) else m for m in (msgs if isinstance(msgs, list) else [msgs])]
            for name, msgs in fields.items()}

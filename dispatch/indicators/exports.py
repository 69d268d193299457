"""Long exports run as background jobs (rq; inline in the embedded default) and report
their progress. Each export is a folder entry under ``<data_dir>/exports``: a status file
the job updates as it goes, and the finished file, written under a temporary name and
renamed when complete (a reader never sees half a file)."""
from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import date
from pathlib import Path

from dispatch.indicators import kpi
from wangge.config import current_settings
from wangge.extensions import db
from wangge.jobs import enqueue, with_app
from wangge.replica import reads_replica
from wangge.timeutil import utcnow

log = logging.getLogger(__name__)
KPI_STEPS = 10  # nine queries, then the file


def exports_dir() -> Path:
    path = Path(current_settings().data_dir).resolve() / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _status_path(export_id: str) -> Path:
    if not export_id.isalnum():
        raise FileNotFoundError(export_id)
    return exports_dir() / f"{export_id}.json"


def read_status(export_id: str) -> dict:
    return json.loads(_status_path(export_id).read_text(encoding="utf-8"))


def _write_status(export_id: str, **changes) -> dict:
    path = _status_path(export_id)
    status = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    status.update(changes, updated_at=utcnow().isoformat())
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return status


def start_kpi_export(*, owner_id: int, first: date, last: date, by: str, fmt: str,
                     department_id: int | None, level: str | None = None, header: str = "names",
                     lang: str = "zh", patrols: bool = True) -> dict:
    export_id = uuid.uuid4().hex
    params = {"first": first.isoformat(), "last": last.isoformat(), "by": by, "fmt": fmt,
              "department_id": department_id, "level": level, "header": header, "lang": lang,
              "patrols": patrols}
    _write_status(export_id, id=export_id, kind="kpi", owner_id=owner_id, params=params,
                           state="queued", done=0, total=KPI_STEPS, file=None, error=None)
    try:
        enqueue(run_kpi_export, export_id, job_id=f"export-{export_id}")
    except Exception as exc:  # Redis unreachable: do the work now rather than lose the request
        log.warning("export %s could not be queued (%s); running it in the request", export_id, exc)
        run_kpi_export(export_id)
    return read_status(export_id)


@with_app
@reads_replica  # below @with_app: it needs the app context
def run_kpi_export(export_id: str) -> None:

    status = read_status(export_id)
    if status["state"] == "done":
        return  # a re-delivered job: the file exists already
    p = status["params"]
    settings = current_settings()
    first, last = date.fromisoformat(p["first"]), date.fromisoformat(p["last"])
    _write_status(export_id, state="running", done=0)
    try:
        start, end = kpi.local_period(first, last, settings.timezone)
        steps = iter(range(1, KPI_STEPS))
        level = p.get("level")
        rows = kpi.compute(db.session, start, end, p["by"], department_id=p["department_id"],
                           weights=settings.kpi_weights, level=level, patrols=p.get("patrols", True),
                           progress=lambda name: _write_status(export_id, done=next(steps, KPI_STEPS - 1), step=name))
        header = {"header": p.get("header", "names"), "lang": p.get("lang", "zh")}
        name = f"kpi-{p['by']}{'-' + level if level else ''}-{p['first']}-{p['last']}.{p['fmt']}"
        target = exports_dir() / f"{export_id}.{p['fmt']}"
        partial = target.with_suffix(target.suffix + ".part")
        if p["fmt"] == "xlsx":
            with partial.open("wb") as fp:
                kpi.to_xlsx(rows, fp, period={"from": p["first"], "to": p["last"], "timezone": settings.timezone},
                            **header)
        else:
            with partial.open("w", encoding="utf-8-sig", newline="") as fp:
                kpi.to_csv(rows, fp, **header)
        os.replace(partial, target)
        _write_status(export_id, state="done", done=KPI_STEPS, file=target.name, filename=name, rows=len(rows))
    except Exception as exc:
        log.exception("export %s failed", export_id)
        _write_status(export_id, state="failed", error=str(exc))
        raise


def file_path(status: dict) -> Path:
    return exports_dir() / status["file"]

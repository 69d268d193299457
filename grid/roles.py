"""Staff roles (docs/domain.md §1). Roles, not people: one person may hold several."""

GRID_WORKER = "grid_worker"
INTAKE_CLERK = "intake_clerk"
SHIFT_LEADER = "shift_leader"
DISPATCHER = "dispatcher"
DEPARTMENT_HANDLER = "department_handler"
ENFORCEMENT_LEADER = "enforcement_leader"
ENFORCEMENT_OFFICER = "enforcement_officer"
LEADER = "leader"
ADMIN = "admin"

ROLES = (
    GRID_WORKER, INTAKE_CLERK, SHIFT_LEADER, DISPATCHER, DEPARTMENT_HANDLER,
    ENFORCEMENT_LEADER, ENFORCEMENT_OFFICER, LEADER, ADMIN,
)

ROLE_NAMES = {
    GRID_WORKER: ("网格员", "Grid worker"),
    INTAKE_CLERK: ("受理员", "Intake clerk"),
    SHIFT_LEADER: ("值班长", "Shift leader"),
    DISPATCHER: ("派遣员", "Dispatcher"),
    DEPARTMENT_HANDLER: ("专业部门处置人员", "Department handler"),
    ENFORCEMENT_LEADER: ("综合执法队长", "Enforcement team leader"),
    ENFORCEMENT_OFFICER: ("执法队员", "Enforcement officer"),
    LEADER: ("领导", "Leader"),
    ADMIN: ("系统管理员", "Administrator"),
}

# Anyone on the staff may read the registry; these may see all of it.
STAFF = ROLES
DISPATCH_CENTER = (INTAKE_CLERK, SHIFT_LEADER, DISPATCHER)


def role_label(role: str, lang: str) -> str:
    """How people call a role, in ``lang`` (``zh`` or ``en``); unknown roles as they are."""
    zh, en = ROLE_NAMES.get(role, (role, role))
    return zh if lang == "zh" else en

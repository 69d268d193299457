"""User-facing text: Chinese by default, English on request.

The language comes from ``?lang=``, then the signed-in staff member's preference,
then ``Accept-Language``, then ``WANGGE_LANGUAGE``.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context, request

SUPPORTED = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # errors
    "validation_error": {"zh": "提交的内容有误：{fields}", "en": "Invalid input: {fields}"},
    "bad_request": {"zh": "请求格式有误", "en": "Malformed request"},
    "unauthorized": {"zh": "请先登录（缺少或无效的访问令牌）", "en": "Sign in first (missing or invalid access token)"},
    "token_expired": {"zh": "访问令牌已过期，请重新登录", "en": "The access token has expired; sign in again"},
    "token_revoked": {"zh": "访问令牌已注销，请重新登录", "en": "The access token was revoked; sign in again"},
    "bad_credentials": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "account_disabled": {"zh": "账号已停用", "en": "This account is disabled"},
    "forbidden_role": {"zh": "该操作需要以下角色之一：{roles}", "en": "This needs one of these roles: {roles}"},
    "not_found": {"zh": "找不到{what}：{key}", "en": "No {what} found: {key}"},
    "route_not_found": {"zh": "没有这个接口", "en": "No such endpoint"},
    "method_not_allowed": {"zh": "该接口不支持此请求方法", "en": "Method not allowed on this endpoint"},
    "conflict": {"zh": "操作冲突：{detail}", "en": "Conflict: {detail}"},
    "already_exists": {"zh": "{what}已存在：{key}", "en": "{what} already exists: {key}"},
    "file_too_large": {"zh": "上传内容过大", "en": "The upload is too large"},
    "rate_limited": {"zh": "请求过于频繁，请稍后再试", "en": "Too many requests; try again later"},
    "internal_error": {"zh": "服务器内部错误", "en": "Internal server error"},
    "point_outside": {"zh": "该位置不在任何网格内（经度 {lon}，纬度 {lat}）", "en": "The point ({lon}, {lat}) is outside every grid"},
    "invalid_crs": {"zh": "不支持的坐标系：{value}（可用：wgs84、gcj02、bd09）", "en": "Unsupported coordinate system: {value} (use wgs84, gcj02 or bd09)"},
    "invalid_features": {"zh": "{count} 个图斑有误，未写入任何数据", "en": "{count} feature(s) are invalid; nothing was written"},
    "invalid_rows": {"zh": "{count} 行有误，未写入任何数据", "en": "{count} row(s) are invalid; nothing was written"},
    "invalid_file": {"zh": "文件无法读取：{detail}", "en": "Cannot read the file: {detail}"},
    "in_use": {"zh": "{what}仍在使用中：{detail}", "en": "{what} is still in use: {detail}"},
    # dispatch
    "unknown_verb": {"zh": "没有这个操作：{verb}", "en": "No such action: {verb}"},
    "verb_forbidden": {"zh": "「{verb}」只能由以下角色执行：{roles}", "en": "'{verb}' is for these roles only: {roles}"},
    "verb_not_allowed": {"zh": "案件当前状态为「{state}」，不能执行「{verb}」", "en": "The case is '{state}'; '{verb}' is not possible now"},
    "stale_case": {"zh": "案件 {number} 已被他人更新，请刷新后重试", "en": "Case {number} was changed by someone else; reload and try again"},
    "not_your_department": {"zh": "案件 {number} 不属于你的部门", "en": "Case {number} is not your department's"},
    "not_assigned": {"zh": "案件 {number} 的核实/核查任务没有派给你", "en": "The verification/check of case {number} is not assigned to you"},
    "not_reporter": {"zh": "只有上报人可以自处理案件 {number}", "en": "Only the reporter may self-handle case {number}"},
    "extension_limit": {"zh": "延期次数已达上限（{limit} 次）", "en": "Extension limit reached ({limit})"},
    "no_bad_rating": {"zh": "案件 {number} 没有不满意评价，无需回访", "en": "Case {number} has no unsatisfied rating to follow up"},
    "outside_all_grids": {"zh": "上报位置不在任何网格内", "en": "The reported location is outside every grid"},
    "case_conflict": {"zh": "案件 {number} 正被他人同时操作，请刷新后重试", "en": "Someone else acted on case {number} at the same time; reload and try again"},
    "case": {"zh": "案件", "en": "case"},
    "export": {"zh": "导出任务", "en": "export"},
    "export_not_ready": {"zh": "导出尚未完成（当前：{state}）", "en": "The export is not ready yet ({state})"},
    "attachment": {"zh": "附件", "en": "attachment"},
    "enforcement_case": {"zh": "执法案件", "en": "enforcement case"},
    "enforcement_group": {"zh": "执法合并组", "en": "enforcement group"},
    "no_enforcement_team": {"zh": "没有可接收移交的综合执法队伍：请先建立类型为「综合执法队」(enforcement_team) 的启用部门",
                            "en": "There is no active enforcement team to refer to: create an active department of kind enforcement_team first"},
    "enforcement_out_of_order": {"zh": "执法案件 {number} 当前处于「{stage}」环节，下一步只能进入「{next}」，不能进入「{to}」",
                                 "en": "Enforcement case {number} is at '{stage}'; the next stage is '{next}', not '{to}'"},
    "enforcement_closed": {"zh": "执法案件 {number} 已结案，不能再变更", "en": "Enforcement case {number} is closed and can no longer change"},
    "not_your_team": {"zh": "执法案件 {number} 不属于你的执法队伍", "en": "Enforcement case {number} belongs to another enforcement team"},
    "enforcement_leader_only": {"zh": "「{stage}」环节由执法队长推进", "en": "The '{stage}' stage is moved on by the team leader"},
    "assign_leader_only": {"zh": "只有执法队长可以指派执法队员", "en": "Only the team leader assigns officers"},
    "not_assigned_officer": {"zh": "你不是执法案件 {number} 的承办队员", "en": "You are not an officer assigned to enforcement case {number}"},
    "officers_first": {"zh": "请先为执法案件 {number} 指派执法队员，再进入调查取证", "en": "Assign officers to enforcement case {number} before the investigation"},
    "enforcement_conflict": {"zh": "执法案件 {number} 已被他人更新，请刷新后重试", "en": "Enforcement case {number} was changed by someone else; reload and try again"},
    "idempotency_key_reused": {"zh": "幂等键 {key} 已用于另一份不同的提交，请换一个新键",
                               "en": "The idempotency key {key} was already used for a different submission; use a new key"},
    # --- messages added per area (each area appends below its own marker) ---
    # area: intake, ratings, merge, matrix
    "already_rated": {"zh": "案件 {number} 已评价过，每次结案只能评价一次",
                      "en": "Case {number} has been rated already; one rating per closure"},
    "use_refer_enforcement": {"zh": "{department}是综合执法队伍，不能派遣：请由处置部门或派遣员使用「移交综合执法」（refer_enforcement）",
                              "en": "{department} is the enforcement team, not a department to dispatch to; "
                                    "use refer_enforcement to refer the case"},
    # area: open311
    "open311_unknown_format": {"zh": "未知格式 .{value}，请用 .json 或 .xml", "en": "Unknown format .{value}; use .json or .xml"},
    "open311_nul": {"zh": "{field} 含有不允许的字符（NUL 或无效的 Unicode）",
                    "en": "{field} contains a character that is not allowed (NUL or invalid Unicode)"},
    "open311_no_service": {"zh": "{field}：没有这个服务 {value}", "en": "{field}: there is no service {value}"},
    "open311_not_text": {"zh": "{field} 必须是文本", "en": "{field} must be text"},
    "open311_too_long": {"zh": "{field} 过长（最多 {max} 个字符）", "en": "{field} is too long (at most {max} characters)"},
    "open311_not_number": {"zh": "{field} 必须是数字", "en": "{field} must be a number"},
    "open311_out_of_range": {"zh": "{field} 必须在 {low} 到 {high} 之间", "en": "{field} must be between {low} and {high}"},
    "open311_bad_url": {"zh": "{field} 必须是 http 或 https 网址", "en": "{field} must be an http or https URL"},
    "open311_api_key_required": {"zh": "缺少 {field}", "en": "{field} is required"},
    "open311_api_key_invalid": {"zh": "{field} 无效", "en": "{field} is not valid"},
    "open311_api_key_forbidden": {"zh": "该 {field} 无权提交诉求", "en": "This {field} may not submit requests"},
    "open311_location_required": {"zh": "缺少位置：请提供 {field}，或 address_string、address_id",
                                  "en": "A location is required: {field}, address_string or address_id"},
    "open311_bad_count": {"zh": "{field} 必须是 {low} 到 {high} 之间的整数",
                          "en": "{field} must be a whole number from {low} to {high}"},
    "open311_bad_date": {"zh": "{field} 必须是带时区的 ISO-8601 时间，例如 2026-01-01T00:00:00+08:00",
                         "en": "{field} must be an ISO-8601 time with a zone, e.g. 2026-01-01T00:00:00+08:00"},
    "open311_date_range": {"zh": "{field} 必须在 {low} 年到 {high} 年之间", "en": "{field} must be between the years {low} and {high}"},
    "open311_window_order": {"zh": "{field} 不能早于 start_date", "en": "{field} must not be before start_date"},
    "open311_window_too_wide": {"zh": "{field} 的跨度最多 {days} 天", "en": "{field} may span at most {days} days"},
    "open311_too_many": {"zh": "{field} 最多 {max} 个", "en": "{field} takes at most {max} values"},
    "open311_bad_status": {"zh": "{field} 只能是 open 或 closed", "en": "{field} must be open or closed"},
    "open311_no_request": {"zh": "{field}：没有这个诉求 {value}", "en": "{field}: there is no service request {value}"},
    "open311_merged": {"zh": "本诉求已与案件 {number} 合并办理。", "en": "This request was merged into case {number}."},
    "open311_merged_answer": {"zh": "本诉求已与案件 {number} 合并办理。该案件的答复：{answer}",
                              "en": "This request was merged into case {number}. That case's answer: {answer}"},
    # area: outage, readiness, serving
    "concurrent_update": {"zh": "该数据正被他人同时修改，请稍后重试", "en": "Someone else changed the same data at the same moment; try again"},
    "database_unavailable": {"zh": "数据库暂时无法访问，请 {retry} 秒后重试",
                             "en": "The database is unavailable right now; retry in {retry} seconds"},
    "not_ready": {"zh": "服务暂不可用：{what} 无法访问", "en": "Not ready: {what} unavailable"},
    "database_not_initialised": {"zh": "数据库尚未初始化（缺少数据表）：请先运行 `wangge init`",
                                 "en": "The database is not initialised (no tables yet): run `wangge init` first"},
    "database_unreachable": {"zh": "无法连接数据库：{detail}", "en": "Cannot reach the database: {detail}"},
    # area: input bounds
    "in_the_future": {"zh": "不能晚于当前时间", "en": "must not be in the future"},
    "invalid_characters": {"zh": "{field} 含有不允许的字符（NUL 或不成对的代理字符）",
                           "en": "{field} contains a character that is not allowed (NUL or a lone surrogate)"},
    "invalid_characters_field": {"zh": "含有不允许的字符（NUL 或不成对的代理字符）",
                                 "en": "contains a character that is not allowed (NUL or a lone surrogate)"},
    "json_too_deep": {"zh": "JSON 嵌套过深（最多 {limit} 层）", "en": "JSON nested too deeply (at most {limit} levels)"},
    "id_out_of_range": {"zh": "必须是 1 到 {max} 之间的整数", "en": "must be an integer from 1 to {max}"},
    "integer_out_of_range": {"zh": "必须在 {min} 到 {max} 之间", "en": "must be between {min} and {max}"},
    "year_out_of_range": {"zh": "年份必须在 {min} 到 {max} 之间", "en": "the year must be between {min} and {max}"},
    "amount_out_of_range": {"zh": "必须是不超过 {max} 的正数（{unit}）", "en": "must be a positive number of at most {max} ({unit})"},
    # area: photos
    "not_an_image": {"zh": "文件不是图片（只接受 JPEG、PNG、WebP）", "en": "The file is not an image (JPEG, PNG or WebP only)"},
    "unsupported_image": {"zh": "不支持的图片格式或尺寸", "en": "Unsupported image format or size"},
    "thumbnail_pending": {"zh": "缩略图尚未生成，请稍后再试", "en": "The thumbnail is not ready yet; try again shortly"},
    "photo_damaged": {"zh": "上传的文件（file）看似 {format} 图片，但文件结构已损坏，无法读取",
                      "en": "The uploaded file (file) looks like a {format} image but its structure is damaged"},
    # area: submission rules
    "submission_required": {"zh": "必填", "en": "required"},
    "submission_too_long": {"zh": "过长（最多 {max} 个字符）", "en": "too long (at most {max} characters)"},
    "submission_bad_characters": {"zh": "含有不允许的字符（NUL 或不成对的代理字符）",
                                  "en": "contains a character that is not allowed (NUL or a lone surrogate)"},
    "submission_one_of": {"zh": "必须是以下之一：{choices}", "en": "must be one of {choices}"},
    "submission_bad_phone": {"zh": "不是有效的电话号码（{min} 到 {max} 个字符：数字、空格和 + - ( )）",
                             "en": "not a phone number ({min} to {max} characters: digits, spaces and + - ( ))"},
    "submission_key_length": {"zh": "长度须为 {min} 到 {max} 个字符", "en": "{min} to {max} characters"},
    "submission_not_printable": {"zh": "只能包含可打印字符", "en": "printable characters only"},
    "submission_not_finite": {"zh": "必须是有限的数字", "en": "must be a finite number"},
    "submission_out_of_range": {"zh": "须在 {low} 到 {high} 之间", "en": "must be between {low} and {high}"},
    "submission_pair": {"zh": "经度和纬度须同时给出", "en": "give both lon and lat, or neither"},
    "submission_no_place": {"zh": "须给出位置（经纬度 lon/lat）或地址", "en": "give a location (lon/lat) or an address"},
    "submission_bad_crs": {"zh": "不支持的坐标系 {value}（可用：{choices}）",
                           "en": "unsupported coordinate system {value} (use {choices})"},
    "submission_unknown_category": {"zh": "没有这个问题类别：{code}", "en": "unknown category {code}"},
    "submission_big_class": {"zh": "请选择小类，而不是大类", "en": "choose a small class, not a big class"},
    "submission_needs_offset": {"zh": "时间须带时区", "en": "the time needs a zone offset"},
    "submission_year_range": {"zh": "年份（UTC）须在 {min} 到 {max} 之间", "en": "the year (in UTC) must be between {min} and {max}"},
    "submission_in_the_future": {"zh": "不能晚于当前时间", "en": "must not be in the future"},
    "hotline_bad_time": {"zh": "无法识别的时间（例：2026-03-01 08:30 或 2026-03-01T08:30:00+08:00）",
                         "en": "not a time (e.g. 2026-03-01 08:30 or 2026-03-01T08:30:00+08:00)"},
    "hotline_not_number": {"zh": "不是有效的数字", "en": "not a number"},
    "hotline_need_crs": {"zh": "有坐标时须注明坐标系（crs 列或 --crs / ?crs=）",
                         "en": "say the coordinate system (crs column, or --crs / ?crs=)"},
    "hotline_duplicate": {"zh": "与第 {line} 行的工单编号重复", "en": "same order number as line {line}"},
    "open311_field_problem": {"zh": "{field}：{message}", "en": "{field}: {message}"},
    # nouns
    "grid": {"zh": "网格", "en": "grid"},
    "department": {"zh": "部门", "en": "department"},
    "staff": {"zh": "人员", "en": "staff member"},
    "category": {"zh": "问题类别", "en": "category"},
    "rule": {"zh": "责任规则", "en": "responsibility rule"},
    "calendar_day": {"zh": "日历设置", "en": "calendar entry"},
    "time_limit": {"zh": "时限", "en": "time limit"},
    # feature problems (geo.validate reasons)
    "missing_code": {"zh": "缺少编码", "en": "missing code"},
    "missing_geometry": {"zh": "缺少几何图形", "en": "missing geometry"},
    "not_polygon": {"zh": "不是面（Polygon/MultiPolygon）", "en": "not a Polygon/MultiPolygon"},
    "empty": {"zh": "几何为空", "en": "empty geometry"},
    "coordinates_out_of_range": {"zh": "坐标超出范围", "en": "coordinates out of range"},
    "self_intersection": {"zh": "自相交", "en": "self-intersection"},
    "invalid_geometry": {"zh": "几何无效", "en": "invalid geometry"},
    "duplicate_code": {"zh": "编码重复", "en": "duplicate code"},
    "bad_code_shape": {"zh": "编码格式不符合国家编码规则", "en": "code does not follow the national code rule"},
    "code_not_under_parent": {"zh": "编码不以上级编码开头", "en": "code does not start with its parent's code"},
    "unknown_level": {"zh": "未知层级", "en": "unknown level"},
    "unknown_parent": {"zh": "上级网格不存在", "en": "parent grid does not exist"},
    "name_too_long": {"zh": "名称过长（最多 200 字）", "en": "name too long (at most 200 characters)"},
}

# marshmallow's built-in messages, so field errors read naturally in Chinese.
FIELD_MESSAGES_ZH = {
    "Missing data for required field.": "必填",
    "Not a valid number.": "不是有效的数字",
    "Not a valid integer.": "不是有效的整数",
    "Not a valid string.": "不是有效的字符串",
    "Not a valid boolean.": "不是有效的布尔值",
    "Not a valid date.": "不是有效的日期（YYYY-MM-DD）",
    "Not a valid datetime.": "不是有效的时间（ISO-8601）",
    "Not a valid list.": "不是有效的列表",
    "Field may not be null.": "不能为空",
    "Unknown field.": "未知字段",
    "Invalid input type.": "类型错误",
    "Invalid value.": "取值无效",
    "Shorter than minimum length 1.": "不能为空",
    "8 to 128 characters": "长度须为 8 到 128 个字符",
    "printable characters only": "只能包含可打印字符",
    "at most 128 characters": "最多 128 个字符",
}


def current_language() -> str:
    if not has_request_context():
        return _default()
    lang = request.args.get("lang")
    if lang in SUPPORTED:
        return lang
    staff = getattr(g, "staff", None)
    if staff is not None and getattr(staff, "language", None) in SUPPORTED:
        return staff.language
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    if best:
        return "en" if best.startswith("en") else "zh"
    return _default()


def _default() -> str:
    try:
        return current_app.config["WANGGE"].language
    except (RuntimeError, KeyError):
        return "zh"


def t(message_key: str, /, lang: str | None = None, **params) -> str:
    lang = lang or current_language()
    entry = MESSAGES.get(message_key)
    if entry is None:
        return message_key
    text = entry.get(lang) or entry["zh"]
    return text.format(**params) if params else text


def field_message(message: str, lang: str | None = None) -> str:
    lang = lang or current_language()
    if lang == "zh":
        return FIELD_MESSAGES_ZH.get(message, message)
    return message

// The enforcement leaders' pages (docs/console.md, Enforcement): the list of referrals with its
// joint-visit groups, or one referral (its stages, officers, next step and records).
import { detailPage } from "./enforcement/detail.js";
import { groupsSection } from "./enforcement/groups.js";
import { listPage } from "./enforcement/list.js";

if (document.getElementById("enf-case")) {
  detailPage();
} else if (document.getElementById("enf-list")) {
  const list = listPage();
  groupsSection(() => list.reload());
}

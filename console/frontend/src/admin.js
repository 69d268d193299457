// The admins' pages (docs/console.md, Administration): the section named by #admin's
// data-section builds its forms and tables (admin/*.js) over the JSON API.
import calendar from "./admin/calendar.js";
import catalog from "./admin/catalog.js";
import departments from "./admin/departments.js";
import grids from "./admin/grids.js";
import matrix from "./admin/matrix.js";
import staff from "./admin/staff.js";

const SECTIONS = { grids, departments, staff, catalog, matrix, calendar };
const root = document.getElementById("admin");
const section = root && SECTIONS[root.dataset.section];
if (section) {
  Promise.resolve(section(root))
    .then(() => { root.dataset.ready = "1"; })
    .catch(() => { root.dataset.ready = "error"; });
}

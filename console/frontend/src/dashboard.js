// dashboard page (scaffolding; being built).
import { t } from "./lib/page.js";

void t;

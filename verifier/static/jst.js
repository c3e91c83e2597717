// What the scanner's pages share: an ISO time as people here read it,
// 2027-04-01 09:00:30 JST (DESIGN §13). Loaded before each page's own script.
"use strict";

function jst(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const shifted = new Date(when.getTime() + 9 * 3600 * 1000).toISOString();
  return shifted.slice(0, 10) + " " + shifted.slice(11, 19) + " JST";
}

"""The small grid hierarchy the API tests import: district > 2 streets > community > 2 grids.
WGS-84 boxes near Shanghai; G1 and G2 share the edge lon = 121.41."""
from shapely.geometry import box

D, S1, S2 = "310101", "310101001", "310101002"
C1 = "310101001001"
G1, G2 = "31010100100101", "31010100100102"
BOXES = {
    D: box(121.40, 31.20, 121.44, 31.22),
    S1: box(121.40, 31.20, 121.42, 31.22),
    S2: box(121.42, 31.20, 121.44, 31.22),
    C1: box(121.40, 31.20, 121.42, 31.22),
    G1: box(121.40, 31.20, 121.41, 31.22),
    G2: box(121.41, 31.20, 121.42, 31.22),
}
LEVELS = {D: "district", S1: "street", S2: "street", C1: "community", G1: "grid", G2: "grid"}
PARENTS = {D: None, S1: D, S2: D, C1: S1, G1: C1, G2: C1}
NAMES = {D: "示范区", S1: "一号街道", S2: "二号街道", C1: "一号社区", G1: "第一网格", G2: "第二网格"}

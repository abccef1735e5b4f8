# @name Rows
planets = [
    {"planet": "Mercury", "moons": 0, "au": 0.39},
    {"planet": "Venus", "moons": 0, "au": 0.72},
    {"planet": "Earth", "moons": 1, "au": 1.0},
    {"planet": "Mars", "moons": 2, "au": 1.52},
]

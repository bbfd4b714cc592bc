"""Qt item models over plain engine dataclasses, one module per entity."""

from .activity import ActivityModel
from .conduits import ConduitsModel
from .conflicts import ConflictsModel
from .generations import GenerationsModel
from .locations import LocationsModel
from .plan import PlanFilterModel, PlanModel

__all__ = [
    "ActivityModel",
    "ConduitsModel",
    "ConflictsModel",
    "GenerationsModel",
    "LocationsModel",
    "PlanFilterModel",
    "PlanModel",
]

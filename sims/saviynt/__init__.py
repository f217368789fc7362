"""A Saviynt-style REST connector engine: run the JSON documents of a Saviynt EIC REST connection
(ConnectionJSON, ImportAccountEntJSON, CreateAccountJSON, AddAccessJSON, RemoveAccessJSON,
RemoveAccountJSON, UpdateAccountJSON, DisableAccountJSON...) for real, over HTTP, against the
fake ZIA and ZPA SCIM or any server, into an in-memory EIC-like store, with a run report.

Semantics: ../shared/reference/saviynt-cyberark.md §1; the guide's documents are in
fixtures/saviynt/. Entry points: ``engine.run`` and the ``sims connector run`` command.
"""

from sims.saviynt.engine import Step, run
from sims.saviynt.provision import Inputs
from sims.saviynt.report import RunReport
from sims.saviynt.store import Store

__all__ = ["Inputs", "RunReport", "Step", "Store", "run"]

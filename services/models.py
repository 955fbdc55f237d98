"""The records the domain works with, as the layers above it see them.

The rows are defined beside the SQL that reads them (`storage/`); handlers, block builders and
senders take them from here, so that nothing above the domain reaches into the store.
"""

from __future__ import annotations

from storage.actions import Action as Action
from storage.digests import DigestRun as DigestRun
from storage.digests import NewRun as NewRun
from storage.digests import RunStatus as RunStatus
from storage.digests import Subscription as Subscription
from storage.disclosure import ReleasedComment as ReleasedComment
from storage.models import AuditEntry as AuditEntry
from storage.models import GateRecord as GateRecord
from storage.models import OutboxItem as OutboxItem
from storage.models import RolloutStatus as RolloutStatus
from storage.models import Stage as Stage
from storage.models import in_language as in_language
from storage.people import FORGOTTEN as FORGOTTEN
from storage.people import AskedRow as AskedRow
from storage.people import Forgotten as Forgotten
from storage.people import OwnAnswer as OwnAnswer
from storage.people import PersonRecord as PersonRecord
from storage.rollouts import RolloutDetail as RolloutDetail
from storage.surveys import Delivery as Delivery
from storage.surveys import DueDelivery as DueDelivery
from storage.threads import Waiting as Waiting

"""export_person and erase_person: everything identity holds of a person, out and then gone."""

from __future__ import annotations

import json
from datetime import timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account.deletion import erase_person
from guichet_identity.profile.service import export_person, find_profile
from guichet_identity.relations.grpc import RelationServicer
from guichet_identity.spaces.grpc import SpaceServicer
from guichet_kit.auth import set_caller
from guichet_kit.db import transaction

NO_CONTEXT = None


async def _life(identity_sessions, clock, new_person, registers, in_registers):
    """Anne: a space of her own, one shared with Bob, a child, a mandate from Bob, an act."""
    anne = await new_person("Anne", "Muller")
    bob = await new_person("Bob", "Schmit")
    await in_registers.company_run_by("B1", anne)
    await in_registers.company_run_by("B2", anne)
    child_id = await in_registers.child_of(anne, (clock.now - timedelta(days=400)).date())
    relations = RelationServicer(identity_sessions, clock=clock, registers=registers)
    spaces = SpaceServicer(identity_sessions, registers=registers)
    set_caller(anne.principal)
    alone = (
        await spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Solo", registry_number="B1"), NO_CONTEXT
        )
    ).space
    shared = (
        await spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Duo", registry_number="B2"), NO_CONTEXT
        )
    ).space
    await spaces.AddCollaborator(
        pb.AddCollaboratorRequest(
            space_id=shared.id, national_id=bob.national_id, role=pb.COLLABORATOR_ROLE_READER
        ),
        NO_CONTEXT,
    )
    await relations.DeclareChild(
        pb.DeclareChildRequest(
            child_national_id=child_id,
            child_first_name="Lea",
            child_last_name="Muller",
        ),
        NO_CONTEXT,
    )
    set_caller(bob.principal)
    ends = Timestamp()
    ends.FromDatetime(clock.now + timedelta(days=10))
    granted = await relations.GrantMandate(
        pb.GrantMandateRequest(
            actor_national_id=anne.national_id,
            kind=pb.RELATION_KIND_SPOUSE,
            rights=["wallet:read"],
            expires_at=ends,
        ),
        NO_CONTEXT,
    )
    set_caller(anne.principal)
    await relations.CheckMandate(
        pb.CheckMandateRequest(
            actor_subject=anne.subject,
            acting_context=f"relation:{granted.relation.id}",
            right="wallet:read",
            act="read a piece",
        ),
        NO_CONTEXT,
    )
    return anne, bob, alone, shared, spaces


async def test_the_export_holds_everything_and_is_json(
    identity_sessions, clock, new_person, registers, in_registers
) -> None:
    anne, _, _, _, _ = await _life(identity_sessions, clock, new_person, registers, in_registers)

    async with transaction(identity_sessions) as session:
        exported = await export_person(session, anne.subject)

    document = json.loads(json.dumps(exported))
    assert document["profile"]["national_id"] == anne.national_id
    assert document["preferences"]["language"] == "fr"
    assert sorted(r["kind"] for r in document["relations"]) == ["child", "spouse"]
    assert sorted(s["registry_number"] for s in document["spaces"]) == ["B1", "B2"]
    assert [a["act"] for a in document["acts_for_others"]] == ["read a piece"]
    assert document["acts_on_my_behalf"] == []


async def test_erasing_a_person_leaves_nothing_of_them(
    identity_sessions, clock, new_person, registers, in_registers, counts
) -> None:
    anne, bob, _, shared, spaces = await _life(
        identity_sessions, clock, new_person, registers, in_registers
    )

    async with transaction(identity_sessions) as session:
        await erase_person(session, anne.subject)
    async with transaction(identity_sessions) as session:
        await erase_person(session, anne.subject)  # a second purge is a no-op

    async with transaction(identity_sessions) as session:
        assert await find_profile(session, anne.subject) is None
        left = await export_person(session, bob.subject)
    assert left["relations"] == [] and left["acts_for_others"] == []
    # What Anne did for Bob stays in Bob's audit: the subject keeps the record of who acted.
    assert [a["act"] for a in left["acts_on_my_behalf"]] == ["read a piece"]
    assert [s["registry_number"] for s in left["spaces"]] == ["B2"]
    # counts() covers every table; these are the ones the life above wrote.
    assert (await counts()).items() >= {
        "acts_on_behalf": 1,
        "relations": 0,
        "collaborators": 1,
        "spaces": 1,
        "preferences": 1,
        "profiles": 1,
    }.items()
    set_caller(bob.principal)
    kept = await spaces.GetSpace(pb.GetSpaceRequest(space_id=shared.id), NO_CONTEXT)
    # Bob only reads: he is not made administrator (see the spaces tests for a member).
    assert [c.role for c in kept.space.collaborators] == [pb.COLLABORATOR_ROLE_READER]

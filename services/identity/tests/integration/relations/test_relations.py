"""Mandates on the real database: who may act for whom, until when, and the subject's audit."""

from __future__ import annotations

from datetime import date, timedelta

import grpc
import pytest

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.relations.grpc import RelationServicer
from guichet_identity.spaces.grpc import SpaceServicer
from guichet_kit.auth import ActingContext, LevelOfAssurance, set_caller
from guichet_kit.errors import ServiceError

NO_CONTEXT = None


@pytest.fixture
def relations(identity_sessions, clock, registers) -> RelationServicer:
    return RelationServicer(identity_sessions, clock=clock, registers=registers)


def _expiring(clock, delta: timedelta):
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromDatetime(clock.now + delta)
    return stamp


async def _check(relations, actor, context: str, right: str, act: str = ""):
    # Services ask with the actor's own token: the actor is the caller.
    set_caller(actor.principal)
    return await relations.CheckMandate(
        pb.CheckMandateRequest(
            actor_subject=actor.subject, acting_context=context, right=right, act=act
        ),
        NO_CONTEXT,
    )


async def _grant(relations, clock, subject, actor, rights=("etracking:write",), hours=1):
    set_caller(subject.principal)
    reply = await relations.GrantMandate(
        pb.GrantMandateRequest(
            actor_national_id=actor.national_id,
            kind=pb.RELATION_KIND_SPOUSE,
            rights=list(rights),
            expires_at=_expiring(clock, timedelta(hours=hours)),
        ),
        NO_CONTEXT,
    )
    return reply.relation


async def test_a_parent_acts_for_a_child_until_the_child_comes_of_age(
    relations, clock, new_person, in_registers
) -> None:
    parent = await new_person("Paul", "Weber")
    child_born = (clock.now - timedelta(days=365 * 10)).date()
    child_id = await in_registers.child_of(parent, child_born)
    set_caller(parent.principal)

    declared = await relations.DeclareChild(
        pb.DeclareChildRequest(
            child_national_id=child_id, child_first_name="Lea", child_last_name="Weber"
        ),
        NO_CONTEXT,
    )
    context = f"relation:{declared.relation.id}"

    assert declared.relation.kind == pb.RELATION_KIND_CHILD
    assert declared.relation.subject_name == "Lea Weber"
    assert declared.relation.actor_name == "Paul Weber"
    assert "procedures:write" in declared.relation.rights
    allowed = await _check(relations, parent, context, "procedures:write", "submitted a request")
    assert allowed.allowed
    assert allowed.owner == f"person:{child_id}"
    assert allowed.expires_at.ToDatetime().date() in {
        date(child_born.year + 18, child_born.month, child_born.day),
        date(child_born.year + 18, child_born.month, child_born.day) - timedelta(days=1),
    }

    clock.now = allowed.expires_at.ToDatetime().replace(tzinfo=clock.now.tzinfo)
    expired = await _check(relations, parent, context, "procedures:write", "too late")

    assert not expired.allowed
    assert expired.refusal == "EXPIRED"
    assert expired.owner == ""


async def test_a_mandate_between_adults_is_audited_for_the_subject_until_it_expires(
    relations, clock, new_person, counts
) -> None:
    anne = await new_person("Anne", "Muller")
    bob = await new_person("Bob", "Schmit")
    relation = await _grant(relations, clock, anne, bob, ["etracking:write"], hours=1)
    context = f"relation:{relation.id}"

    read_only = await _check(relations, bob, context, "etracking:read")
    acted = await _check(relations, bob, context, "etracking:write", "opted in to SMS tracking")

    assert read_only.allowed and acted.allowed
    assert acted.owner == f"person:{anne.national_id}"
    set_caller(anne.principal)
    audit = await relations.ListActsOnMyBehalf(pb.ListActsOnMyBehalfRequest(), NO_CONTEXT)
    assert [
        (a.act, a.actor_national_id, a.actor_name, a.acting_context, a.right) for a in audit.acts
    ] == [("opted in to SMS tracking", bob.national_id, "Bob Schmit", context, "etracking:write")]
    set_caller(bob.principal)
    bobs_own = await relations.ListActsOnMyBehalf(pb.ListActsOnMyBehalfRequest(), NO_CONTEXT)
    assert list(bobs_own.acts) == []

    clock.advance(timedelta(hours=1, seconds=1))
    before = await counts()
    expired = await _check(relations, bob, context, "etracking:write", "after the end")

    assert (expired.allowed, expired.refusal) == (False, "EXPIRED")
    assert await counts() == before, "a refused act is not audited"


async def test_the_audit_lists_the_newest_act_first(relations, clock, new_person) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    relation = await _grant(relations, clock, anne, bob, ["wallet:write"])
    for act in ("first", "second", "third"):
        await _check(relations, bob, f"relation:{relation.id}", "wallet:read", act)
        clock.advance(timedelta(seconds=1))

    set_caller(anne.principal)
    audit = await relations.ListActsOnMyBehalf(pb.ListActsOnMyBehalfRequest(limit=2), NO_CONTEXT)

    assert [act.act for act in audit.acts] == ["third", "second"]


async def test_a_mandate_grants_only_its_rights(relations, clock, new_person) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    relation = await _grant(relations, clock, anne, bob, ["wallet:read"])
    context = f"relation:{relation.id}"

    assert (await _check(relations, bob, context, "wallet:read")).allowed
    write = await _check(relations, bob, context, "wallet:write")
    other = await _check(relations, bob, context, "messaging:read")
    manage = await _check(relations, bob, context, "space:manage")

    assert {write.refusal, other.refusal, manage.refusal} == {"RIGHT_NOT_GRANTED"}


async def test_nobody_else_can_use_or_see_or_revoke_a_relation(
    relations, clock, new_person
) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    carl = await new_person("Carl")
    relation = await _grant(relations, clock, anne, bob)

    used = await _check(relations, carl, f"relation:{relation.id}", "etracking:read", "probe")
    assert (used.allowed, used.refusal, used.owner) == (False, "NO_SUCH_CONTEXT", "")
    set_caller(carl.principal)
    listed = await relations.ListRelations(pb.ListRelationsRequest(), NO_CONTEXT)
    assert list(listed.acting_for) == [] and list(listed.acted_for_by) == []
    with pytest.raises(ServiceError) as refused:
        await relations.RevokeRelation(
            pb.RevokeRelationRequest(relation_id=relation.id), NO_CONTEXT
        )
    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.NOT_FOUND,
        "RELATION_NOT_FOUND",
    )
    assert (await _check(relations, bob, f"relation:{relation.id}", "etracking:read")).allowed


async def test_both_sides_see_the_relation(relations, clock, new_person) -> None:
    anne = await new_person("Anne", "Muller")
    bob = await new_person("Bob", "Schmit")
    relation = await _grant(relations, clock, anne, bob)

    set_caller(anne.principal)
    annes = await relations.ListRelations(pb.ListRelationsRequest(), NO_CONTEXT)
    set_caller(bob.principal)
    bobs = await relations.ListRelations(pb.ListRelationsRequest(), NO_CONTEXT)

    assert [r.id for r in annes.acted_for_by] == [relation.id] and list(annes.acting_for) == []
    assert [r.id for r in bobs.acting_for] == [relation.id] and list(bobs.acted_for_by) == []
    assert (bobs.acting_for[0].actor_name, bobs.acting_for[0].subject_name) == (
        "Bob Schmit",
        "Anne Muller",
    )


@pytest.mark.parametrize("revoker", ["subject", "actor"])
async def test_a_revoked_mandate_is_refused(relations, clock, new_person, revoker) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    relation = await _grant(relations, clock, anne, bob)
    set_caller((anne if revoker == "subject" else bob).principal)

    await relations.RevokeRelation(pb.RevokeRelationRequest(relation_id=relation.id), NO_CONTEXT)

    refused = await _check(relations, bob, f"relation:{relation.id}", "etracking:read", "x")
    assert (refused.allowed, refused.refusal) == (False, "REVOKED")
    listed = await relations.ListRelations(pb.ListRelationsRequest(), NO_CONTEXT)
    assert [r.revoked for r in [*listed.acting_for, *listed.acted_for_by]] == [True]


async def test_a_second_active_mandate_to_the_same_person_is_refused(
    relations, clock, new_person, counts
) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    await _grant(relations, clock, anne, bob)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await _grant(relations, clock, anne, bob, ["wallet:read"])

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "RELATION_EXISTS",
    )
    assert await counts() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"actor_national_id": "1980010100018"}, "actor_national_id"),
        ({"actor_national_id": "SELF"}, "actor_national_id"),
        ({"kind": pb.RELATION_KIND_UNSPECIFIED}, "kind"),
        ({"kind": pb.RELATION_KIND_CHILD}, "kind"),
        ({"rights": []}, "rights"),
        ({"rights": ["wallet:read", "wallet:delete"]}, "rights"),
        ({"rights": ["space:manage"]}, "rights"),
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": timedelta(seconds=-1)}, "expires_at"),
        ({"expires_at": timedelta(days=5 * 366)}, "expires_at"),
    ],
)
async def test_a_bad_mandate_is_refused_with_its_field_and_nothing_is_written(
    relations, clock, new_person, counts, change, field
) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    values = {
        "actor_national_id": bob.national_id,
        "kind": pb.RELATION_KIND_OTHER_PERSON,
        "rights": ["etracking:read"],
        "expires_at": timedelta(days=30),
    }
    values.update(change)
    if values["actor_national_id"] == "SELF":
        values["actor_national_id"] = anne.national_id
    expires = values.pop("expires_at")
    request = pb.GrantMandateRequest(**values)
    if expires is not None:
        request.expires_at.CopyFrom(_expiring(clock, expires))
    set_caller(anne.principal)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await relations.GrantMandate(request, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [error.field for error in refused.value.field_errors] == [field]
    assert await counts() == before


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("adult", "child_national_id"),
        ("self", "child_national_id"),
        ("invalid", "child_national_id"),
        ("no_first_name", "child_first_name"),
    ],
)
async def test_a_bad_child_declaration_is_refused_and_nothing_is_written(
    relations, clock, new_person, born, counts, case, field
) -> None:
    parent = await new_person("Paul")
    child_id = {
        "adult": born((clock.now - timedelta(days=365 * 19)).date()),
        "self": parent.national_id,
        "invalid": "20150101001" + "00",
        "no_first_name": born((clock.now - timedelta(days=365 * 3)).date()),
    }[case]
    set_caller(parent.principal)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await relations.DeclareChild(
            pb.DeclareChildRequest(
                child_national_id=child_id,
                child_first_name="" if case == "no_first_name" else "Lea",
                child_last_name="Weber",
            ),
            NO_CONTEXT,
        )

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [error.field for error in refused.value.field_errors] == [field]
    assert await counts() == before


async def test_the_private_context_is_the_actors_own(relations, new_person) -> None:
    anne = await new_person("Anne")

    own = await _check(relations, anne, "private", "wallet:write", "uploaded a piece")

    assert (own.allowed, own.owner) == (True, f"person:{anne.national_id}")


@pytest.mark.parametrize(
    "context", ["relation:not-a-uuid", "relation:3b1d7a52-4a55-4c1e-9d1c-0d9d1f3f8f01"]
)
async def test_an_unknown_relation_is_no_such_context(relations, new_person, context) -> None:
    anne = await new_person("Anne")

    refused = await _check(relations, anne, context, "wallet:read")

    assert (refused.allowed, refused.refusal) == (False, "NO_SUCH_CONTEXT")


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (
            pb.CheckMandateRequest(actor_subject="", acting_context="private", right="wallet:read"),
            "actor_subject",
        ),
        (
            pb.CheckMandateRequest(
                actor_subject="kc", acting_context="spouse:1", right="wallet:read"
            ),
            "acting_context",
        ),
        (
            pb.CheckMandateRequest(
                actor_subject="kc", acting_context="private", right="wallet:own"
            ),
            "right",
        ),
        (
            pb.CheckMandateRequest(
                actor_subject="kc", acting_context="private", right="wallet:read", act="x" * 501
            ),
            "act",
        ),
    ],
)
async def test_a_bad_mandate_check_is_refused_with_its_field(
    relations, new_person, request_, field
) -> None:
    set_caller((await new_person()).principal)

    with pytest.raises(ServiceError) as refused:
        await relations.CheckMandate(request_, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [error.field for error in refused.value.field_errors] == [field]


async def test_a_mandate_cannot_be_checked_or_audited_in_someone_elses_name(
    relations, clock, new_person
) -> None:
    subject, actor, eve = await new_person(), await new_person(), await new_person()
    relation = await _grant(relations, clock, subject, actor)
    request = pb.CheckMandateRequest(
        actor_subject=actor.subject,
        acting_context=f"relation:{relation.id}",
        right="etracking:write",
        act="forged act",
    )
    set_caller(eve.principal)
    with pytest.raises(ServiceError) as refused:
        await relations.CheckMandate(request, NO_CONTEXT)
    assert refused.value.reason == "ACTOR_MISMATCH"
    set_caller(None)
    with pytest.raises(ServiceError) as anonymous:
        await relations.CheckMandate(request, NO_CONTEXT)
    assert anonymous.value.reason == "AUTHENTICATION_REQUIRED"
    set_caller(subject.principal)
    audit = await relations.ListActsOnMyBehalf(pb.ListActsOnMyBehalfRequest(), NO_CONTEXT)
    assert list(audit.acts) == []


@pytest.mark.parametrize("call", ["GrantMandate", "DeclareChild"])
async def test_giving_power_over_someone_needs_the_high_level(relations, new_person, call) -> None:
    person, other = await new_person(), await new_person()
    set_caller(person.at(LevelOfAssurance.SUBSTANTIAL))
    request = (
        pb.GrantMandateRequest(actor_national_id=other.national_id)
        if call == "GrantMandate"
        else pb.DeclareChildRequest(child_national_id=other.national_id)
    )
    with pytest.raises(ServiceError) as refused:
        await getattr(relations, call)(request, NO_CONTEXT)
    assert refused.value.reason == "INSUFFICIENT_USER_AUTHENTICATION"
    assert refused.value.metadata == {"acr_values": "high"}


async def test_collaborators_act_for_the_company_within_their_role(
    identity_sessions, relations, new_person, registers, in_registers
) -> None:
    boss = await new_person("Boss")
    clerk = await new_person("Clerk")
    outsider = await new_person("Outsider")
    await in_registers.company_run_by("B123456", boss)
    spaces = SpaceServicer(identity_sessions, registers=registers)
    set_caller(boss.principal)
    space = (
        await spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Muller SARL", registry_number="B123456"),
            NO_CONTEXT,
        )
    ).space
    await spaces.AddCollaborator(
        pb.AddCollaboratorRequest(
            space_id=space.id, national_id=clerk.national_id, role=pb.COLLABORATOR_ROLE_READER
        ),
        NO_CONTEXT,
    )
    company = f"company:{space.id}"

    read = await _check(relations, clerk, company, "data:read", "read the VAT balance")
    write = await _check(relations, clerk, company, "procedures:write", "submit")
    manage = await _check(relations, boss, company, "space:manage")
    outside = await _check(relations, outsider, company, "data:read")

    assert (read.allowed, read.owner) == (True, company)
    assert (write.allowed, write.refusal) == (False, "RIGHT_NOT_GRANTED")
    assert manage.allowed
    assert (outside.allowed, outside.refusal) == (False, "NO_SUCH_CONTEXT")


async def test_while_acting_for_someone_one_still_lists_ones_relations_but_grants_nothing(
    relations, clock, new_person, counts
) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    relation = await _grant(relations, clock, anne, bob)
    set_caller(bob.principal, ActingContext("relation", relation.id))

    listed = await relations.ListRelations(pb.ListRelationsRequest(), NO_CONTEXT)
    before = await counts()
    with pytest.raises(ServiceError) as refused:
        await relations.RevokeRelation(
            pb.RevokeRelationRequest(relation_id=relation.id), NO_CONTEXT
        )

    assert [r.id for r in listed.acting_for] == [relation.id]
    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "ACTING_CONTEXT_NOT_ALLOWED",
    )
    assert await counts() == before


async def _contexts(relations, person, context: ActingContext | None = None):
    set_caller(person.principal, context or ActingContext("private"))
    reply = await relations.ListActingContexts(pb.ListActingContextsRequest(), NO_CONTEXT)
    return list(reply.contexts)


async def test_the_contexts_offered_are_the_private_one_the_spaces_and_mandates_in_force(
    identity_sessions, relations, clock, new_person, registers, in_registers
) -> None:
    anne, bob, carl, dora = (
        await new_person("Anne", "Muller"),
        await new_person("Bob", "Schmit"),
        await new_person("Carl", "Weber"),
        await new_person("Dora", "Klein"),
    )
    await in_registers.company_run_by("B7", carl)
    spaces = SpaceServicer(identity_sessions, registers=registers)
    set_caller(carl.principal)
    space = (
        await spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Weber SA", registry_number="B7"), NO_CONTEXT
        )
    ).space
    await spaces.AddCollaborator(
        pb.AddCollaboratorRequest(
            space_id=space.id, national_id=bob.national_id, role=pb.COLLABORATOR_ROLE_MEMBER
        ),
        NO_CONTEXT,
    )
    lasting = await _grant(relations, clock, anne, bob, ["etracking:read"], hours=48)
    clock.advance(timedelta(seconds=1))
    short = await _grant(relations, clock, carl, bob, ["wallet:read"], hours=1)
    clock.advance(timedelta(seconds=1))
    revoked = await _grant(relations, clock, dora, bob, ["wallet:read"], hours=48)
    set_caller(dora.principal)
    await relations.RevokeRelation(pb.RevokeRelationRequest(relation_id=revoked.id), NO_CONTEXT)

    offered = await _contexts(relations, bob)

    assert [(c.context, c.kind, c.owner, c.name) for c in offered] == [
        ("private", pb.ACTING_CONTEXT_KIND_PRIVATE, f"person:{bob.national_id}", "Bob Schmit"),
        (
            f"company:{space.id}",
            pb.ACTING_CONTEXT_KIND_COMPANY,
            f"company:{space.id}",
            "Weber SA",
        ),
        (
            f"relation:{short.id}",
            pb.ACTING_CONTEXT_KIND_RELATION,
            f"person:{carl.national_id}",
            "Carl Weber",
        ),
        (
            f"relation:{lasting.id}",
            pb.ACTING_CONTEXT_KIND_RELATION,
            f"person:{anne.national_id}",
            "Anne Muller",
        ),
    ]
    assert offered[1].role == pb.COLLABORATOR_ROLE_MEMBER
    assert (offered[3].relation_kind, list(offered[3].rights)) == (
        pb.RELATION_KIND_SPOUSE,
        ["etracking:read"],
    )
    assert offered[3].expires_at == lasting.expires_at
    # Asked while acting for someone, the answer is the same: the caller's own choices.
    assert await _contexts(relations, bob, ActingContext("relation", lasting.id)) == offered

    clock.advance(timedelta(hours=1, seconds=1))

    # An expired mandate is no longer offered (CheckMandate refuses it too).
    later = await _contexts(relations, bob)
    assert [c.context for c in later] == [
        "private",
        f"company:{space.id}",
        f"relation:{lasting.id}",
    ]
    expired = await _check(relations, bob, f"relation:{short.id}", "wallet:read")
    assert expired.refusal == "EXPIRED"


async def test_nobody_is_offered_someone_elses_relation(relations, clock, new_person) -> None:
    anne, bob, eve = await new_person("Anne"), await new_person("Bob"), await new_person("Eve")
    relation = await _grant(relations, clock, anne, bob, hours=48)

    # The subject gave the mandate; only its actor may act through it.
    for person in (anne, eve):
        offered = await _contexts(relations, person)
        assert [c.context for c in offered] == ["private"]
        assert f"relation:{relation.id}" not in [c.context for c in offered]


async def test_a_caller_without_a_profile_is_offered_nothing(relations, new_person) -> None:
    anne = await new_person()
    set_caller(anne.__class__("kc-nobody", "1980010100017", "No", "Body").principal)

    with pytest.raises(ServiceError) as refused:
        await relations.ListActingContexts(pb.ListActingContextsRequest(), NO_CONTEXT)

    assert refused.value.reason == "PROFILE_NOT_FOUND"


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("Lea\u202eaeL", "Weber", "child_first_name"),
        ("Lea", "Weber\u001b[31m", "child_last_name"),
        ("Le\u200fa", "Weber", "child_first_name"),
    ],
)
async def test_a_childs_name_with_control_or_bidi_characters_is_refused_and_nothing_is_written(
    relations, clock, new_person, born, counts, first, last, field
) -> None:
    parent = await new_person("Paul")
    set_caller(parent.principal)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await relations.DeclareChild(
            pb.DeclareChildRequest(
                child_national_id=born((clock.now - timedelta(days=365 * 3)).date()),
                child_first_name=first,
                child_last_name=last,
            ),
            NO_CONTEXT,
        )

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_CHILD",
    )
    assert [(e.field, e.reason) for e in refused.value.field_errors] == [
        (field, "control_character")
    ]
    assert await counts() == before


async def test_a_flood_of_rights_is_refused_without_echoing_them(
    relations, clock, new_person, counts
) -> None:
    anne, bob = await new_person("Anne"), await new_person("Bob")
    set_caller(anne.principal)
    before = await counts()
    flood = ["x" * 5_000] * 30

    for rights in (flood, ["x" * 5_000]):
        with pytest.raises(ServiceError) as refused:
            await relations.GrantMandate(
                pb.GrantMandateRequest(
                    actor_national_id=bob.national_id,
                    kind=pb.RELATION_KIND_SPOUSE,
                    rights=rights,
                    expires_at=_expiring(clock, timedelta(days=1)),
                ),
                NO_CONTEXT,
            )
        assert [error.field for error in refused.value.field_errors] == ["rights"]
        assert "xxxxx" not in str(refused.value.message)
        assert all("xxxxx" not in str(e.message) for e in refused.value.field_errors)
    assert await counts() == before

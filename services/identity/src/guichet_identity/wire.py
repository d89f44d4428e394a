"""Translation between identity's domain and its protobuf messages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.profile.fields import Address
from guichet_identity.profile.models import Preferences, Profile
from guichet_identity.relations.mandate import RelationKind
from guichet_identity.relations.models import ActOnBehalf, Relation
from guichet_identity.relations.service import ContextChoice
from guichet_identity.spaces.models import Space
from guichet_identity.spaces.roles import CollaboratorRole

_KIND_PREFIX = "RELATION_KIND_"
_ROLE_PREFIX = "COLLABORATOR_ROLE_"
_CONTEXT_KINDS = {
    "private": pb.ACTING_CONTEXT_KIND_PRIVATE,
    "company": pb.ACTING_CONTEXT_KIND_COMPANY,
    "relation": pb.ACTING_CONTEXT_KIND_RELATION,
}


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value)
    return message


def kind_to_proto(kind: RelationKind) -> pb.RelationKind.ValueType:
    return pb.RelationKind.Value(_KIND_PREFIX + kind.value.upper())


def kind_from_proto(value: pb.RelationKind.ValueType) -> RelationKind | None:
    """None for UNSPECIFIED or a number this version does not know."""
    if value == pb.RELATION_KIND_UNSPECIFIED or value not in pb.RelationKind.values():
        return None
    return RelationKind(pb.RelationKind.Name(value).removeprefix(_KIND_PREFIX).lower())


def role_to_proto(role: CollaboratorRole) -> pb.CollaboratorRole.ValueType:
    return pb.CollaboratorRole.Value(_ROLE_PREFIX + role.value.upper())


def role_from_proto(value: pb.CollaboratorRole.ValueType) -> CollaboratorRole | None:
    if value == pb.COLLABORATOR_ROLE_UNSPECIFIED or value not in pb.CollaboratorRole.values():
        return None
    return CollaboratorRole(pb.CollaboratorRole.Name(value).removeprefix(_ROLE_PREFIX).lower())


def address_from_proto(message: pb.Address) -> Address:
    return Address(
        street=message.street,
        house_number=message.house_number,
        postal_code=message.postal_code,
        locality=message.locality,
        country=message.country,
    )


def profile_to_proto(profile: Profile) -> pb.Profile:
    return pb.Profile(
        subject=profile.subject,
        national_id=profile.national_id,
        first_name=profile.first_name,
        last_name=profile.last_name,
        birth_date=profile.birth_date.isoformat(),
        email=profile.email,
        phone=profile.phone or "",
        address=pb.Address(
            street=profile.street,
            house_number=profile.house_number,
            postal_code=profile.postal_code,
            locality=profile.locality,
            country=profile.country,
        ),
        updated_at=timestamp(profile.updated_at),
    )


def preferences_to_proto(preferences: Preferences) -> pb.Preferences:
    return pb.Preferences(
        email_notifications=preferences.email_notifications,
        sms_notifications=preferences.sms_notifications,
        language=preferences.language,
        edelivery_subscribed=preferences.edelivery_subscribed,
    )


def relation_to_proto(relation: Relation, names: Mapping[str, str]) -> pb.Relation:
    """`names`: national id → name of those with an account."""
    return pb.Relation(
        id=str(relation.id),
        kind=kind_to_proto(RelationKind(relation.kind)),
        actor_national_id=relation.actor_national_id,
        subject_national_id=relation.subject_national_id,
        actor_name=names.get(relation.actor_national_id, ""),
        subject_name=names.get(relation.subject_national_id, relation.subject_name),
        rights=list(relation.rights),
        expires_at=timestamp(relation.expires_at),
        created_at=timestamp(relation.created_at),
        revoked=relation.revoked_at is not None,
    )


def act_to_proto(act: ActOnBehalf) -> pb.ActOnBehalf:
    return pb.ActOnBehalf(
        occurred_at=timestamp(act.occurred_at),
        actor_national_id=act.actor_national_id,
        actor_name=act.actor_name,
        acting_context=act.acting_context,
        right=act.right,
        act=act.act,
    )


def space_to_proto(space: Space, my_national_id: str, names: Mapping[str, str]) -> pb.Space:
    message = pb.Space(
        id=str(space.id),
        company_name=space.company_name,
        registry_number=space.registry_number,
        created_at=timestamp(space.created_at),
    )
    for collaborator in space.collaborators:
        role = CollaboratorRole(collaborator.role)
        message.collaborators.append(
            pb.Collaborator(
                national_id=collaborator.national_id,
                name=names.get(collaborator.national_id, ""),
                role=role_to_proto(role),
                added_at=timestamp(collaborator.added_at),
            )
        )
        if collaborator.national_id == my_national_id:
            message.my_role = role_to_proto(role)
    return message


def context_choice_to_proto(choice: ContextChoice) -> pb.ActingContext:
    message = pb.ActingContext(
        context=str(choice.context),
        kind=_CONTEXT_KINDS[choice.context.kind],
        owner=choice.owner,
        name=choice.name,
    )
    if choice.role is not None:
        message.role = role_to_proto(choice.role)
    if choice.relation is not None:
        message.relation_kind = kind_to_proto(RelationKind(choice.relation.kind))
        message.rights.extend(choice.relation.rights)
        message.expires_at.CopyFrom(timestamp(choice.relation.expires_at))
    return message

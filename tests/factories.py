import factory
from django.contrib.auth import get_user_model

from annotation.projects.models import Membership, Project, Role
from annotation.voters.models import Voter
from annotation.voters.services import voter_for_member

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    @factory.post_generation
    def password(obj, create, extracted, **kwargs):  # noqa: N805
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    item_kind = "text"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR
    voter = factory.LazyAttribute(lambda m: voter_for_member(project=m.project, user=m.user))


def voter_id(project: Project, user) -> int:  # type: ignore[no-untyped-def]
    """The id of the member's voter in the project: what suspension names."""
    return Voter.objects.get(project=project, user=user).pk

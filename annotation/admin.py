from django.contrib import admin

from annotation.imports.models import ImportJob
from annotation.items.models import Item
from annotation.projects.models import AuditEvent, Membership, Project
from annotation.rulebook.models import RulebookVersion

admin.site.register([Project, Membership, RulebookVersion, ImportJob])


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "external_id", "kind", "state"]
    list_filter = ["project", "state"]
    search_fields = ["external_id", "text"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "project", "actor", "verb", "object_type", "object_id"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

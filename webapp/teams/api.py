"""The user's teams and their role in each: GET /api/teams/."""

from __future__ import annotations

from rest_framework import generics, serializers

from webapp.teams.models import Membership, Role


class MembershipSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="team_id")
    name = serializers.CharField(source="team.name")
    role = serializers.ChoiceField(choices=Role.choices)
    can_write = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "name", "role", "can_write"]

    def get_can_write(self, membership: Membership) -> bool:
        return membership.can_write


class TeamList(generics.ListAPIView):
    """The teams you belong to, with your role (viewers read; members and owners also create and change)."""

    serializer_class = MembershipSerializer

    def get_queryset(self):
        return Membership.objects.filter(user=self.request.user).select_related("team").order_by("team__name")

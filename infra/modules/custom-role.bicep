// A custom role definition. Definitions live at subscription scope; assignments of it are made
// on single resources (see the *-access.bicep modules).
targetScope = 'subscription'

@description('GUID naming the role definition (stable per environment).')
param roleGuid string

@description('Display name of the role (unique in the tenant).')
param roleName string

@description('What the role allows.')
param roleDescription string

@description('The allowed actions: exact operations, no wildcards.')
param actions string[]

@description('Where the role may be assigned: the resource groups holding the target resources.')
param assignableScopes string[]

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleGuid
  properties: {
    roleName: roleName
    description: roleDescription
    type: 'CustomRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: assignableScopes
  }
}

output roleGuid string = role.name

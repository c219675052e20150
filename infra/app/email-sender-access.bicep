// Deployed into the resource group of the Communication Services resource the app sends through (the one
// communication.bicep creates, or an existing one in any resource group or subscription): grants the Function
// App's identity the right to send email there, and nothing more, and returns the endpoint (ACS_ENDPOINT).

@description('Name of the Communication Services resource (in this module\'s resource group).')
param communicationServiceName string

@description('Principal id of the Function App\'s user-assigned managed identity.')
param principalId string

resource communicationService 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

// Least privilege for sending email with Entra ID: the built-in 'Communication and Email Service Owner'
// (09976791-48a7-449e-bb21-39d1a415f350) also lets its holder manage domains, keys and sender usernames.
// Microsoft documents a custom role with exactly these three actions on the Communication Services resource
// as sufficient to send mail with an Entra ID identity (ACS email docs: "Use a custom role to limit
// permissions granted to the Microsoft Entra application"). It is assignable only in the resource group that holds the Communication Services resource.
var emailSendActions = [
  'Microsoft.Communication/CommunicationServices/Read'
  'Microsoft.Communication/CommunicationServices/Write'
  'Microsoft.Communication/EmailServices/write'
]

resource emailSenderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'acs-email-sender')
  properties: {
    roleName: 'ACS Email Sender (${resourceGroup().name}, ${uniqueString(resourceGroup().id)})'
    description: 'Send email through Azure Communication Services with Microsoft Entra ID, and nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: emailSendActions
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

// Email send: the custom role above on the Communication Services resource only, so the app can call
// POST {ACS_ENDPOINT}/emails:send and poll the operation, and cannot touch any other ACS resource.
resource emailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communicationService.id, principalId, emailSenderRole.id)
  scope: communicationService
  properties: {
    roleDefinitionId: emailSenderRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = 'https://${communicationService.properties.hostName}'

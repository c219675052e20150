// The Function App's own storage account: host storage (blob leases for the timer singletons, host keys),
// the Flex Consumption deployment package container, and the app's state tables.
// Shared-key access is off: the host, the deployment and the app all authenticate with the managed identity.

param name string
param location string
param tags object = {}

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('State tables the app reads and writes (shared/state code: watermarks, incidents, ...).')
param tableNames array

@description('Queues of the app\'s queue-triggered functions; each gets its <name>-poison twin.')
param queueNames array

@description('Principal id of the Function App\'s user-assigned managed identity.')
param principalId string

@description('The state table on-call people may read and write from the CLI: the silences.')
param onCallTableName string

@description('Object id of the Entra group whose members add silences from the CLI; empty grants nobody.')
param onCallGroupObjectId string = ''

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches its host storage over the public endpoint; access is Entra ID only (shared keys disabled), so a network deny rule would only break the app.
  // checkov:skip=CKV_AZURE_59: Same reason as CKV_AZURE_35: public network access is required without VNet integration; every request still needs an Entra ID token with a data role.
  // checkov:skip=CKV_AZURE_206: Locally redundant storage is enough: the account holds a re-deployable package, host leases and short-lived alert state (watermarks and claims), not data of record.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

// Storage Blob Data Owner on the account: the Functions host creates and leases blobs in its own containers
// (azure-webjobs-hosts for timer singletons and schedule status, azure-webjobs-secrets for the function keys)
// and Flex Consumption reads the deployment package with this identity. The host creates those containers
// itself, so the role cannot be narrowed to one container.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor on the account: the app reads and writes its state tables (watermarks,
// incident claims and outbox, history, silences, metric states, webhook deliveries). The account holds nothing else of
// value, so account scope grants no more than the tables themselves.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageTableDataContributorRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource onCallTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: onCallTableName
}

// Storage Table Data Contributor for the on-call group on the silences table only: members add, list and end
// silences with the CLI (`python -m shared silence ...`, signed in with `az login`) and can read or change no other
// table, nor any blob or queue. A table is the narrowest scope Azure Storage accepts for a data role (Microsoft
// Learn, "Assign an Azure role for access to table data": "/.../tableServices/default/tables/<table-name>").
resource onCallSilences 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(onCallGroupObjectId)) {
  name: guid(onCallTable.id, onCallGroupObjectId, storageTableDataContributorRoleId)
  scope: onCallTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
    principalId: onCallGroupObjectId
    principalType: 'Group'
    description: 'On-call silences of the Azure ML alerting (python -m shared silence)'
  }
  dependsOn: [
    tables
  ]
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The queues and their poison twins exist before the first message: the host's listener waits for a missing
// trigger queue rather than creating it.
resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

resource poisonQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: '${queueName}-poison'
  }
]

// Storage Queue Data Contributor on the account: the queue triggers read, hide (lock, and release a failed message
// with host.json's visibilityTimeout: Update Message needs messages/write) and delete messages and move poison ones
// to <queue>-poison; the app puts messages (send, with a visibility delay). The narrower Message Processor lacks
// messages/write, which the trigger needs (MicrosoftDocs/azure-docs#120932); the account has no other queues.
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageQueueDataContributorRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainer.name
output tableNames array = [for (tableName, i) in tableNames: tables[i].name]
output queueEndpoint string = storage.properties.primaryEndpoints.queue

// The reconciler's workbook: runs, IP history per source, changes and guards (infra/workbook.json).

import { tagsType } from 'types.bicep'

@description('Location of the workbook.')
param location string

@description('Tags applied to every resource.')
param tags tagsType

@description('Seed of the workbook\'s GUID name (stable per environment).')
param nameSeed string

@description('Resource ID of the Application Insights component the workbook queries.')
param applicationInsightsId string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, nameSeed, 'workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'apim-ip-reconciler'
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: replace(loadTextContent('../workbook.json'), '__APPLICATION_INSIGHTS_ID__', applicationInsightsId)
  }
}

output workbookId string = workbook.id
